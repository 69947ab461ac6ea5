"""`invoke bench.models`: whole-model latency of the MLPerf Tiny float models through the library's
runtime, beside LiteRT on the same input in the same run, at 1 thread and at N.

Both run pinned to the same CPUs (the first `threads` of those this process may use): the runner
process and this one, in which LiteRT's interpreter runs. Batches alternate between the two, each
calibrated to about BATCH_SECONDS, and the figure is the median per-inference time over the
batches. The runner times its own loop of `repeat` inferences; LiteRT is timed around a Python loop
of `invoke()` calls, which adds about a microsecond per inference (measured with an empty loop and
subtracted)."""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from small_harness.toolchain.backends import Backend
from small_harness.bench.batches import batch_repeat
from small_harness.build.cmake import build
from small_harness.core.errors import HarnessError
from small_harness.models.mlperf_tiny import FLOAT_MODELS, MODELS_DIR
from small_harness.runner.launch import start_runner
from small_harness.models.cache import import_cached
from small_harness.runner.client import Runner
from small_harness.targets.types import Target, Variant
from small_harness.bench.results import RESULTS_DIR, write_results

BATCHES = 11
BATCH_SECONDS = 0.1


@dataclass(frozen=True)
class ModelTiming:
    model: str
    threads: int
    ours_ns: tuple[float, ...]  # per inference, one per batch
    litert_ns: tuple[float, ...]

    @property
    def ours_ms(self) -> float:
        return statistics.median(self.ours_ns) / 1e6

    @property
    def litert_ms(self) -> float:
        return statistics.median(self.litert_ns) / 1e6

    @property
    def ratio(self) -> float:
        """Our latency over LiteRT's: below 1 is faster."""
        return self.ours_ms / self.litert_ms


def _interpreter(path: Path, threads: int) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


def _litert_loop_ns(interpreter: Any, repeat: int) -> float:
    invoke = interpreter.invoke
    start = time.perf_counter_ns()
    for _ in range(repeat):
        invoke()
    return (time.perf_counter_ns() - start) / repeat


def _python_loop_ns(repeat: int) -> float:
    """The cost of the timing loop itself, per iteration, with a call of about invoke()'s cost."""
    def nothing() -> None:
        return None
    start = time.perf_counter_ns()
    for _ in range(repeat):
        nothing()
    return (time.perf_counter_ns() - start) / repeat


def time_model(runner: Runner, name: str, threads: int, batches: int = BATCHES) -> ModelTiming:
    imported = import_cached(MODELS_DIR / f"{name}.tflite")
    model = imported.model
    x = np.random.default_rng(0).random(model.input_layout, dtype=np.float32)
    runner.set_threads(threads)
    runner.load_model(imported.file)
    ours_x = x.reshape(model.shapes[model.input])
    interpreter = _interpreter(MODELS_DIR / f"{name}.tflite", threads)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    # Warm up both and size the batches.
    ours_first = runner.run_model(ours_x).elapsed_ns
    litert_first = _litert_loop_ns(interpreter, 3)
    ours_repeat = batch_repeat(BATCH_SECONDS, ours_first)
    litert_repeat = batch_repeat(BATCH_SECONDS, litert_first)
    ours, litert = [], []
    for batch in range(batches):
        steps = [lambda: ours.append(runner.run_model(ours_x, ours_repeat).elapsed_ns / ours_repeat),
                 lambda: litert.append(_litert_loop_ns(interpreter, litert_repeat)
                                       - _python_loop_ns(litert_repeat))]
        for step in steps if batch % 2 == 0 else reversed(steps):  # alternate who goes first
            step()
    return ModelTiming(name, threads, tuple(ours), tuple(litert))


def thread_counts(requested: str) -> list[int]:
    """1 and N (the CPUs this process may use), or a comma list."""
    available = len(os.sched_getaffinity(0))
    if requested:
        try:
            counts = [int(word) for word in requested.split(",") if word.strip()]
        except ValueError:
            raise HarnessError(f"--threads takes a comma list of counts, not {requested!r}") from None
        if not counts or min(counts) < 1 or max(counts) > available:
            raise HarnessError(f"--threads {requested}: counts from 1 to {available} (the CPUs this process may use)")
        return counts
    return sorted({1, available})


def pin_first_cpus(runner_pid: int, cpus: list[int], count: int) -> None:
    """The runner and this process (where LiteRT runs) on the same first `count` of `cpus`."""
    pinned = set(cpus[:count])
    os.sched_setaffinity(0, pinned)
    os.sched_setaffinity(runner_pid, pinned)


def run_model_bench(target: Target, variant: Variant, backend: Backend, threads: list[int],
                    models: list[str] | None = None) -> list[ModelTiming]:
    if not target.is_native:
        raise HarnessError(f"{target.name} runs under QEMU, where wall time means nothing: bench --models measures "
                           "native targets only")
    result = build(target, backend)
    cpus = sorted(os.sched_getaffinity(0))
    timings = []
    saved = os.sched_getaffinity(0)
    try:
        with start_runner(target, variant, backend, result.runner) as runner:
            for count in threads:
                pin_first_cpus(runner.pid, cpus, count)
                for name in models or list(FLOAT_MODELS):
                    timings.append(time_model(runner, name, count))
    finally:
        os.sched_setaffinity(0, saved)
    return timings


def format_table(variant: Variant, timings: list[ModelTiming]) -> str:
    rows = [f"{variant.label}: whole models, ours against LiteRT on the same input, interleaved, pinned, medians "
            f"of {len(timings[0].ours_ns) if timings else 0} batches",
            f"{'model':24} {'threads':>7} {'LiteRT ms':>10} {'ours ms':>9} {'ours/LiteRT':>12}"]
    for t in timings:
        rows.append(f"{t.model:24} {t.threads:>7} {t.litert_ms:>10.4f} {t.ours_ms:>9.4f} {t.ratio:>11.2f}x")
    return "\n".join(rows)


def write_json(variant: Variant, timings: list[ModelTiming], directory: Path = RESULTS_DIR) -> Path:
    data = {"variant": variant.label, "models": [
        {"model": t.model, "threads": t.threads, "litert_ms": t.litert_ms, "ours_ms": t.ours_ms, "ratio": t.ratio,
         "litert_batch_ns": list(t.litert_ns), "ours_batch_ns": list(t.ours_ns)} for t in timings]}
    return write_results(f"models-{variant.label}.json", data, directory)

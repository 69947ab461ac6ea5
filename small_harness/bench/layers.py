"""`invoke bench.layers` (`invoke bench`): native speed of the layers of small_harness/bench/layers.toml against the FMA peak
measured in the same run (small_peak), and against LiteRT running the same layer (bench_litert.py)
in batches alternating with ours, both pinned to one CPU, one thread.

Each layer is planned once per runner request, outside the timed loop; the runner times `repeat`
runs of it into the same preallocated buffers. A batch is calibrated to last about BATCH_SECONDS, so
the first run's page faults on a fresh output buffer weigh little, and the figure is the median over
BATCHES batches (the VM is noisy: medians, never single runs)."""

from __future__ import annotations

import os
import platform
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from small_harness.toolchain.backends import Backend
from small_harness.bench.batches import batch_repeat
from small_harness.bench.layer_list import BenchLayer
from small_harness.bench.litert import LiteRTLayer, check_agreement, goal_ratio, layer_file
from small_harness.build.cmake import build
from small_harness.core.errors import HarnessError
from small_harness.runner.launch import start_runner
from small_harness.runner.client import Runner
from small_harness.targets.types import REF_ISA, Target, Variant
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.registry import missing_cpu_flags
from small_harness.bench.results import RESULTS_DIR, write_results

PEAK_NAME = "small_peak"
BATCHES = 9
BATCH_SECONDS = 0.05


@dataclass(frozen=True)
class Peak:
    gflops: float  # median over small_peak's batches (the higher of two runs): what layers are compared with
    best_gflops: float
    isa: str  # the kernel table whose probe measured it


@dataclass(frozen=True)
class Measurement:
    layer: BenchLayer
    kernel: str
    repeat: int
    batch_ns: tuple[float, ...]  # per run, one per batch
    litert_ns: tuple[float, ...] = ()  # LiteRT's, per invoke, batches alternating with ours (or none)

    @property
    def litert_gflops(self) -> float | None:
        return 2.0 * self.layer.macs() / statistics.median(self.litert_ns) if self.litert_ns else None

    @property
    def speed_over_litert(self) -> float | None:
        """Our GFLOP/s over LiteRT's in the same run: above 1 is faster."""
        litert = self.litert_gflops
        return self.gflops / litert if litert else None

    def litert_goal_met(self) -> bool | None:
        ratio = self.speed_over_litert
        return None if ratio is None else ratio >= goal_ratio(self.layer)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.batch_ns)

    @property
    def gflops(self) -> float:
        return 2.0 * self.layer.macs() / self.median_ns

    def goal_met(self, peak: Peak) -> bool | None:
        """None when the layer has no goal."""
        if self.layer.goal_peak_fraction is not None:
            return self.gflops >= self.layer.goal_peak_fraction * peak.gflops
        if self.layer.goal_gflops is not None:
            return self.gflops >= self.layer.goal_gflops
        return None


@dataclass(frozen=True)
class BenchReport:
    target: Target
    variant: Variant
    backend: str
    isa: str
    peak: Peak
    measurements: list[Measurement]


def measure_peak(target: Target, variant: Variant, backend: Backend, build_dir: Path) -> Peak:
    program = build_dir / PEAK_NAME
    result = backend.run(target, target.run_command(variant) + [str(program)], REPO_ROOT)
    words = result.output.split()
    if result.returncode != 0 or len(words) != 5 or words[0] != "peak":
        raise HarnessError(f"{variant.label}: {PEAK_NAME} failed (exit {result.returncode}): {result.output.strip()}")
    return Peak(float(words[1]), float(words[2]), words[4])


def layer_operands(layer: BenchLayer, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, layer.input).astype(np.float32)
    weights = rng.uniform(-1.0, 1.0, layer.weight_shape()).astype(np.float32)
    bias = rng.uniform(-1.0, 1.0, (layer.out_channels,)).astype(np.float32)
    return x, weights, bias


@dataclass(frozen=True)
class LayerTimes:
    kernel: str  # the kernel that served the layer
    repeat: int  # runs per batch of ours
    ours_ns: tuple[float, ...]  # per run, one per batch
    litert_ns: tuple[float, ...]  # per invoke(), one per batch (or none)


def time_layer(runner: Runner, layer: BenchLayer, seed: int, batches: int, litert: bool,
               threads: int = 1) -> LayerTimes:
    """Our time per run; with `litert`, LiteRT's too (its interpreter at `threads`; the runner's are the
    caller's to set), its batches alternating with ours (who goes first alternates too), after
    checking that both compute the same output."""
    x, weights, bias = layer_operands(layer, seed)
    first = runner.run(layer.layer(), [x], weights, bias, repeat=1)  # warms up and sizes the batches
    repeat = batch_repeat(BATCH_SECONDS, first.elapsed_ns)
    peer = None
    data = layer_file(layer, weights, bias) if litert else None
    if data is not None:
        peer = LiteRTLayer(layer, data, x, threads)
        check_agreement(layer, first.output, peer.output())
        peer_repeat = batch_repeat(BATCH_SECONDS, peer.batch_ns(3))
    per_run: list[float] = []
    per_invoke: list[float] = []
    for batch in range(batches):
        steps = [lambda: per_run.append(runner.run(layer.layer(), [x], weights, bias, repeat=repeat).elapsed_ns / repeat)]
        if peer is not None:
            steps.append(lambda: per_invoke.append(peer.batch_ns(peer_repeat)))
        for step in steps if batch % 2 == 0 else reversed(steps):
            step()
    return LayerTimes(first.kernel, repeat, tuple(per_run), tuple(per_invoke))


def measure_layer(runner: Runner, layer: BenchLayer, seed: int, batches: int = BATCHES,
                  litert: bool = False) -> Measurement:
    """Our median per run at one thread; with `litert`, LiteRT's too (time_layer)."""
    times = time_layer(runner, layer, seed, batches, litert)
    return Measurement(layer, times.kernel, times.repeat, times.ours_ns, times.litert_ns)


def bench_variants(target: Target, spec: str = "all") -> list[Variant]:
    """The variants worth timing: each SIMD table this CPU runs (arch/ref's has no peak to compare with)."""
    from small_harness.targets.registry import select_variants

    return [v for v in select_variants(target, spec) if v.isa != REF_ISA and not missing_cpu_flags(target, v)]


def run_bench(target: Target, variant: Variant, backend: Backend, layers: list[BenchLayer],
              batches: int = BATCHES, litert: bool = True) -> BenchReport:
    if not target.is_native:
        raise HarnessError(f"{target.name} runs under QEMU, where wall time means nothing: bench measures "
                           "native targets only")
    lacking = missing_cpu_flags(target, variant)
    if lacking:
        raise HarnessError(f"{variant.label}: this CPU lacks {' '.join(lacking)}; nothing to measure")
    result = build(target, backend)
    before = measure_peak(target, variant, backend, result.build_dir)
    saved = os.sched_getaffinity(0)
    try:
        with start_runner(target, variant, backend, result.runner) as runner:
            # One thread each, on the same CPU: LiteRT runs in this process.
            pinned = {min(saved)}
            os.sched_setaffinity(0, pinned)
            os.sched_setaffinity(runner.pid, pinned)
            isa = runner.info().selected[0]
            measurements = [measure_layer(runner, layer, seed, batches, litert) for seed, layer in enumerate(layers)]
    finally:
        os.sched_setaffinity(0, saved)
    # The peak before and after the layers: the higher one, so that a busy moment cannot inflate ratios.
    after = measure_peak(target, variant, backend, result.build_dir)
    return BenchReport(target, variant, backend.name, isa, max(before, after, key=lambda p: p.gflops), measurements)


def format_table(report: BenchReport) -> str:
    peak = report.peak
    rows = [f"{report.variant.label} ({report.isa} kernels, {report.backend} toolchain): FMA peak {peak.gflops:.1f} "
            f"GFLOP/s median, {peak.best_gflops:.1f} best ({peak.isa} probe); medians of "
            f"{len(report.measurements[0].batch_ns) if report.measurements else 0} batches; LiteRT (1 thread, same CPU) "
            "in batches alternating with ours",
            f"{'layer':20} {'shape':24} {'MACs':>11} {'median us':>10} {'GFLOP/s':>8} {'% peak':>7} {'goal':>11} "
            f"{'LiteRT':>7} {'x LiteRT':>8} {'goal':>10}  kernel"]
    for m in report.measurements:
        met = m.goal_met(peak)
        goal = ""
        if met is not None:
            wanted = (f">={m.layer.goal_peak_fraction:.0%}" if m.layer.goal_peak_fraction is not None
                      else f">={m.layer.goal_gflops:g}")
            goal = f"{wanted} {'ok' if met else 'MISS'}"
        litert, ratio, peer_goal = "-", "-", ""
        if m.speed_over_litert is not None and m.litert_gflops is not None:
            litert, ratio = f"{m.litert_gflops:.1f}", f"{m.speed_over_litert:.2f}x"
            peer_goal = f">={goal_ratio(m.layer):g}x {'ok' if m.litert_goal_met() else 'MISS'}"
        rows.append(f"{m.layer.name:20} {m.layer.shape_text():24} {m.layer.macs():>11,} {m.median_ns / 1e3:>10.1f} "
                    f"{m.gflops:>8.1f} {m.gflops / peak.gflops:>7.1%} {goal:>11} {litert:>7} {ratio:>8} "
                    f"{peer_goal:>10}  {m.kernel}")
    return "\n".join(rows)


def write_json(report: BenchReport, directory: Path = RESULTS_DIR) -> Path:
    data = {
        "target": report.target.name, "variant": report.variant.label, "isa": report.isa, "backend": report.backend,
        "machine": cpu_model(), "peak_gflops": report.peak.gflops, "peak_best_gflops": report.peak.best_gflops,
        "peak_isa": report.peak.isa,
        "layers": [{
            "name": m.layer.name, "op": m.layer.op, "shape": m.layer.shape_text(), "source": m.layer.source,
            "macs": m.layer.macs(), "kernel": m.kernel, "repeat": m.repeat, "batch_ns": list(m.batch_ns),
            "median_ns": m.median_ns, "gflops": m.gflops, "peak_fraction": m.gflops / report.peak.gflops,
            "goal_met": m.goal_met(report.peak), "litert_batch_ns": list(m.litert_ns),
            "litert_gflops": m.litert_gflops, "speed_over_litert": m.speed_over_litert,
            "litert_goal": goal_ratio(m.layer), "litert_goal_met": m.litert_goal_met(),
        } for m in report.measurements],
    }
    return write_results(f"{report.variant.label}.json", data, directory)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()

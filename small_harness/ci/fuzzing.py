"""`invoke fuzz`: the libFuzzer targets (tests/fuzz/: the model loader plus one inference, the
pre-packed loader, the layer API's descriptors, and the runner protocol), built with ASan and UBSan by a
target whose TOML says `fuzzing = true`, run for a bounded time each, in parallel.

Corpora live in build/fuzz/<corpus>/ and grow from run to run. They are seeded from the real MLPerf
Tiny models (as the library's model files, and pre-packed by the fuzzing build's own runner, whose
kernels are those the fuzzer runs), from descriptors of every layer kind and from protocol requests.
Every input that ever crashed a fuzzer is kept in tests/fuzz/regressions/<corpus>/, which seeds each run;
the target test suite replays the model, packed and runner ones on every target
(tests/target/test_fuzz_regressions.py); the layer ones are fuzz_layer's own encoding, replayed by it."""

from __future__ import annotations

import hashlib
import re
import shutil
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from small_harness.core.paths import relative
from small_harness.runner import layers as L
from small_harness.runner import protocol as protocol
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import FUZZER_NAMES, build
from small_harness.core.errors import HarnessError
from small_harness.core.junit import JunitCase
from small_harness.core.junit import write_junit as write_junit_file
from small_harness.models.mlperf_tiny import FLOAT_MODELS, MODELS_DIR
from small_harness.models.format import Model, encode
from small_harness.runner.launch import start_runner
from small_harness.models.cache import import_cached
from small_harness.targets.types import Target
from small_harness.core.paths import REPO_ROOT

FUZZ_DIR = REPO_ROOT / "build" / "fuzz"
REGRESSIONS_DIR = REPO_ROOT / "tests" / "fuzz" / "regressions"
# binary -> corpus and regression folder
FUZZERS = {"fuzz_model": "model", "fuzz_packed": "packed", "fuzz_layer": "layer", "fuzz_runner": "runner"}
# One input running longer is a finding (a hang), as a crash is. The slowest legitimate input (a 4 M MAC
# conv on arch/ref's table with ASan and UBSan) takes 0.7 s at a load average of 13 on 2 cores; 60 s is far
# above what a starved machine makes of it (10 s once timed out in a loaded CI container on an input
# that takes 23 ms) and still ends a real deadlock, which never finishes.
INPUT_TIMEOUT_S = 60
RSS_LIMIT_MB = 2048
MAX_INPUT_BYTES = 2 * 1024 * 1024  # above the largest seed (the 1 MB autoencoder)
FINDING_PREFIXES = ("crash-", "leak-", "timeout-", "oom-")


@dataclass(frozen=True)
class FuzzResult:
    fuzzer: str
    seconds: float
    executions: int
    executions_per_second: int
    corpus_inputs: int
    findings: list[Path]  # the inputs saved to the regression corpus
    log: Path

    @property
    def ok(self) -> bool:
        return not self.findings


def _write_seed(folder: Path, data: bytes) -> None:
    (folder / hashlib.sha1(data).hexdigest()).write_bytes(data)


def _layer_request(layer: object, inputs: list[tuple[int, int, int]], weights: int, bias: int) -> bytes:
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(shape, dtype=np.float32) for shape in inputs]
    fields = protocol.layer_fields(layer, inputs)  # type: ignore[arg-type]
    fields.update(has_weights=int(weights > 0), has_bias=int(bias > 0), repeat=1)
    w = rng.standard_normal(weights, dtype=np.float32) if weights else None
    b = rng.standard_normal(bias, dtype=np.float32) if bias else None
    return protocol.encode_layer(fields, float(getattr(layer, "alpha", 0.0)), w, b, arrays)


def runner_seeds() -> list[bytes]:
    """Small requests of every command and layer kind, one per seed, and a model load and run."""
    layer_requests = [
        _layer_request(L.Conv2D(8, (3, 3), padding="same", activation="relu"), [(6, 6, 4)], 3 * 3 * 4 * 8, 8),
        _layer_request(L.Conv2D(8, (3, 3), stride=(2, 2), groups=8), [(7, 7, 8)], 3 * 3 * 8, 8),
        _layer_request(L.MaxPool((2, 2), (2, 2)), [(6, 6, 4)], 0, 0),
        _layer_request(L.AvgPool((3, 3), (1, 1), padding="same"), [(5, 5, 4)], 0, 0),
        _layer_request(L.GlobalAvgPool(), [(4, 4, 8)], 0, 0),
        _layer_request(L.FullyConnected(10), [(1, 1, 16)], 16 * 10, 10),
        _layer_request(L.Add(activation="relu6"), [(3, 3, 4), (3, 3, 4)], 0, 0),
        _layer_request(L.Activate("leaky_relu", 0.1), [(3, 3, 4)], 0, 0),
        _layer_request(L.Softmax(), [(1, 1, 10)], 0, 0),
        _layer_request(L.Concat(), [(2, 2, 3), (2, 2, 5)], 0, 0),
    ]
    smallest = min(FLOAT_MODELS, key=lambda name: (MODELS_DIR / f"{name}.tflite").stat().st_size)
    model = import_cached(MODELS_DIR / f"{smallest}.tflite")
    shape = model.model.shapes[model.model.input]
    run = protocol.encode_model_run(np.zeros(shape, np.float32), 1)
    return [protocol.encode_info(), *layer_requests, protocol.encode_model_load(model.file) + run,
            b"".join(layer_requests[:3]) + protocol.encode_quit()]


PREFIX_LAYERS = (1, 2, 4)


def _mlperf_files() -> list[bytes]:
    """The MLPerf Tiny float models as the library's model files, whole and cut after their first
    1, 2 and 4 layers: small real models that keep the fuzzer fast, since a mutated whole model
    loads and packs up to a megabyte of weights on every execution."""
    files = []
    for name in FLOAT_MODELS:
        imported = import_cached(MODELS_DIR / f"{name}.tflite")
        files.append(imported.file)
        model = imported.model
        for count in PREFIX_LAYERS:
            if count < len(model.nodes):
                nodes = model.nodes[:count]
                files.append(encode(Model(f"{model.name}-first-{count}", model.shapes, nodes, model.input,
                                          nodes[-1].output)))
    return files


def model_seeds() -> list[bytes]:
    return _mlperf_files()


def packed_seeds(target: Target, backend: Backend, runner: Path) -> list[bytes]:
    """The same files pre-packed by the fuzzing build's own runner: the kernels and tiles the fuzzer's
    build chooses on this CPU, so that mutations start from files it loads."""
    with start_runner(target, None, backend, runner) as packer:
        return [packer.pack_model(data) for data in _mlperf_files()]


def _word(value: int) -> bytes:
    """A word fuzz_layer takes as it is (the table, the op, flags)."""
    return struct.pack("<I", value)


def _small(value: int) -> bytes:
    """A word fuzz_layer reads as a field's small value (fuzz_layer.c: value())."""
    return struct.pack("<I", (value % 20) << 2)


def layer_seeds() -> list[bytes]:
    """A descriptor of each op, at 1 and 2 threads, in fuzz_layer.c's order: table, threads, op, inputs,
    8 input shapes, equal shapes, out channels, depthwise, groups, kernel, stride, dilation, padding,
    4 pads, activation, alpha, reshape, bias; then floats for the weights and inputs."""
    seeds = []
    for op in range(10):
        for threads in (0, 1):
            words = [_word(0), _word(threads), _word(op), _word(2 if op == 5 else 1), *[_small(d) for d in (6, 7, 4) * 8],
                     _word(1), _small(8), _word(0), _small(1), *[_small(v) for v in (3, 3, 1, 1, 1, 1)], _word(1),
                     *[_small(0)] * 4, _word(1), struct.pack("<f", 0.1), *[_small(v) for v in (7, 4, 6)], _word(1)]
            seeds.append(b"".join(words) + bytes(range(256)) * 8)
    return seeds


def _count(folder: Path) -> int:
    return sum(1 for path in folder.iterdir() if path.is_file()) if folder.is_dir() else 0


def _stat(log: str, name: str) -> int:
    found = re.findall(rf"stat::{name}:\s+(\d+)", log)
    return int(found[-1]) if found else 0


def _run_one(binary: Path, corpus: str, seeds_made: list[bytes], seconds: int, backend: Backend,
             target: Target) -> FuzzResult:
    work = FUZZ_DIR / corpus
    seeds, grown, artifacts = work / "seeds", work / "corpus", work / "findings"
    regressions = REGRESSIONS_DIR / corpus
    for folder in (seeds, grown, artifacts, regressions):
        folder.mkdir(parents=True, exist_ok=True)
    for stale in artifacts.iterdir():
        stale.unlink()
    for data in seeds_made:
        _write_seed(seeds, data)
    # libFuzzer writes new inputs into the first folder and reads the others: the regression corpus
    # and the seeds start every run.
    argv = [str(binary), f"-max_total_time={seconds}", f"-timeout={INPUT_TIMEOUT_S}", f"-rss_limit_mb={RSS_LIMIT_MB}",
            f"-max_len={MAX_INPUT_BYTES}", "-print_final_stats=1", f"-artifact_prefix={artifacts}/",
            str(grown), str(regressions), str(seeds)]
    log_path = work / "log.txt"
    started = time.monotonic()
    with log_path.open("w") as log:
        subprocess.run(backend.interactive_command(target, argv), stdout=log, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, cwd=REPO_ROOT,
                       timeout=seconds + 300)  # + loading the corpus, and a last slow input
    elapsed = time.monotonic() - started
    text = log_path.read_text(errors="replace")
    findings = []
    for found in sorted(artifacts.iterdir()):
        if found.name.startswith(FINDING_PREFIXES):
            kept = regressions / found.name
            shutil.copyfile(found, kept)
            findings.append(kept)
    executions = _stat(text, "number_of_executed_units")
    if not findings and executions == 0:
        tail = "\n".join(text.strip().splitlines()[-15:])
        raise HarnessError(f"{binary.name} did not run (see {relative(log_path)})", details=tail)
    return FuzzResult(binary.name, elapsed, executions, _stat(text, "average_exec_per_sec"), _count(grown),
                      findings, log_path)


def fuzz_targets(targets: list[Target]) -> list[Target]:
    chosen = [target for target in targets if target.fuzzing]
    if not chosen:
        raise HarnessError("no target here says `fuzzing = true` in its TOML (e.g. toolchains/x86_64-sanitizers.toml)")
    return chosen


def run_fuzzers(target: Target, backend: Backend, seconds: int) -> list[FuzzResult]:
    """Builds the fuzzers and runs them all at once for `seconds` each; findings go to the regressions."""
    if seconds < 1:
        raise HarnessError(f"--seconds must be at least 1, not {seconds}")
    result = build(target, backend, fuzz=True)
    seeds = {"model": model_seeds(), "packed": packed_seeds(target, backend, result.runner),
             "layer": layer_seeds(), "runner": runner_seeds()}
    binaries = [result.build_dir / name for name in FUZZER_NAMES]
    with ThreadPoolExecutor(len(binaries)) as pool:
        futures = [pool.submit(_run_one, binary, FUZZERS[binary.name], seeds[FUZZERS[binary.name]], seconds, backend,
                               target) for binary in binaries]
        return [future.result() for future in futures]


def format_table(results: list[FuzzResult]) -> str:
    lines = [f"{'fuzzer':12} {'seconds':>8} {'executions':>11} {'exec/s':>8} {'corpus':>7}  findings"]
    for r in results:
        found = ", ".join(relative(path) for path in r.findings) or "none"
        lines.append(f"{r.fuzzer:12} {r.seconds:8.0f} {r.executions:11d} {r.executions_per_second:8d} "
                     f"{r.corpus_inputs:7d}  {found}")
    return "\n".join(lines)


def write_junit(results: list[FuzzResult], directory: Path) -> None:
    """One test case per fuzzer, failed when it found anything, for the CI table."""
    cases = [JunitCase(r.fuzzer, r.seconds, failure=f"{len(r.findings)} finding(s)" if r.findings else "",
                       details="\n".join(str(path) for path in r.findings)) for r in results]
    write_junit_file(directory / "fuzz.xml", "fuzz", cases)

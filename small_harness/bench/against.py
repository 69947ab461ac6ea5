"""`invoke bench.against REV`: the MLPerf Tiny float models through this checkout's library
and through REV's (any commit of this repository), side by side in one run, to measure a change.

Why not two runs of `bench --models`: on a noisy VM one binary's time moves 1.5-2x between runs
minutes apart, far more than most changes. Here two runners, one per build, are pinned to the same
CPUs and take turns: each round times one batch of the same number of inferences on each (who goes
first alternates), and the figure is the median over rounds of the two batches' ratio. A drift of
the machine slower than a round (about 20 ms; 60 ms with threads, which pause between batches) moves
both sides of a ratio alike and cancels.

REV's source is exported with `git archive` into build/against/<commit>/src and built there with
this checkout's toolchain files; both builds stay, so a second comparison rebuilds nothing."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from small_harness.toolchain.backends import Backend
from small_harness.bench.batches import batch_repeat
from small_harness.build.cmake import BuildResult, build
from small_harness.core.errors import HarnessError
from small_harness.models.mlperf_tiny import FLOAT_MODELS, MODELS_DIR
from small_harness.runner.launch import start_runner
from small_harness.models.cache import import_cached
from small_harness.runner.client import Runner, SmallError
from small_harness.core.tarballs import extract_tar
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target, Variant
from small_harness.bench.results import RESULTS_DIR, write_results

AGAINST_DIR = REPO_ROOT / "build" / "against"
ROUNDS = 101
BATCH_SECONDS = 0.01
# With threads, the pool's workers spin a few milliseconds after a run before they sleep
# (lib/src/threads.c): so long a pause before each batch keeps the other runner's spinning workers
# off the CPUs it is timed on.
POOL_SETTLE_SECONDS = 0.02


def resolve_revision(revision: str) -> str:
    """The full commit id of REV, or a one-line error."""
    found = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], cwd=REPO_ROOT,
                           capture_output=True, text=True)
    if found.returncode != 0 or not found.stdout.strip():
        raise HarnessError(f"{revision}: not a commit of this repository (see git log for commits)")
    return found.stdout.strip()


def revision_source(commit: str) -> Path:
    """REV's tree, exported once into build/against/<commit>/src (a partial export is redone)."""
    source = AGAINST_DIR / commit[:12] / "src"
    if (source / "CMakeLists.txt").is_file():
        return source
    partial = source.with_name("src.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", "--format=tar", commit], cwd=REPO_ROOT, capture_output=True)
    if archive.returncode != 0:
        raise HarnessError(f"git archive {commit[:12]} failed: {archive.stderr.decode(errors='replace').strip()}")
    extract_tar(archive.stdout, partial)
    if not (partial / "CMakeLists.txt").is_file():
        raise HarnessError(f"{commit[:12]} has no CMakeLists.txt at its top: too old to build for a comparison")
    partial.rename(source)
    return source


def build_revision(target: Target, backend: Backend, commit: str) -> BuildResult:
    return build(target, backend, source=revision_source(commit),
                 build_dir=AGAINST_DIR / commit[:12] / backend.name / target.name)


@dataclass(frozen=True)
class Comparison:
    model: str
    threads: int
    ours_ns: tuple[float, ...]  # per inference, one per round
    theirs_ns: tuple[float, ...]  # REV's, in the same rounds

    @property
    def ratio(self) -> float:
        """The median over rounds of our time over REV's: below 1, this checkout is faster."""
        return statistics.median(o / t for o, t in zip(self.ours_ns, self.theirs_ns))

    @property
    def spread(self) -> tuple[float, float]:
        """The middle half of the rounds' ratios (quartiles): how far the median can be trusted."""
        ratios = sorted(o / t for o, t in zip(self.ours_ns, self.theirs_ns))
        return ratios[len(ratios) // 4], ratios[(3 * len(ratios)) // 4]

    @property
    def ours_ms(self) -> float:
        return statistics.median(self.ours_ns) / 1e6

    @property
    def theirs_ms(self) -> float:
        return statistics.median(self.theirs_ns) / 1e6


def compare_model(ours: Runner, theirs: Runner, name: str, threads: int, rounds: int = ROUNDS) -> Comparison:
    """Rounds of one batch on each runner, of the same size (calibrated on ours to BATCH_SECONDS)."""
    imported = import_cached(MODELS_DIR / f"{name}.tflite")
    model = imported.model
    x = np.random.default_rng(0).random(model.shapes[model.input], dtype=np.float32)
    for runner, whose in ((ours, "this checkout's"), (theirs, "REV's")):
        try:  # REV may be older than a request or the model format: say so in one line
            runner.set_threads(threads)
            runner.load_model(imported.file)
            runner.run_model(x)  # warm up: page faults, the thread pool
        except SmallError as error:
            raise HarnessError(f"{name} at {threads} threads: {whose} runner refuses what this checkout sends: "
                               f"{error.message}") from None
    repeat = batch_repeat(BATCH_SECONDS, ours.run_model(x).elapsed_ns)
    ours_ns: list[float] = []
    theirs_ns: list[float] = []
    sides = ((ours, ours_ns), (theirs, theirs_ns))
    for round_number in range(rounds):
        for runner, times in sides if round_number % 2 == 0 else reversed(sides):
            if threads > 1:
                time.sleep(POOL_SETTLE_SECONDS)
            times.append(runner.run_model(x, repeat).elapsed_ns / repeat)
    return Comparison(name, threads, tuple(ours_ns), tuple(theirs_ns))


def run_against(target: Target, variant: Variant, backend: Backend, commit: str, threads: list[int],
                models: list[str] | None = None, rounds: int = ROUNDS) -> list[Comparison]:
    if not target.is_native:
        raise HarnessError(f"{target.name} runs under QEMU, where wall time means nothing: --against compares "
                           "native targets only (for emulated ones: bench --arch T --check, instruction counts)")
    ours_build = build(target, backend)
    theirs_build = build_revision(target, backend, commit)
    cpus = sorted(os.sched_getaffinity(0))
    comparisons = []
    with start_runner(target, variant, backend, ours_build.runner) as ours, \
            start_runner(target, variant, backend, theirs_build.runner) as theirs:
        for count in threads:
            for runner in (ours, theirs):
                os.sched_setaffinity(runner.pid, set(cpus[:count]))
            for name in models or list(FLOAT_MODELS):
                comparisons.append(compare_model(ours, theirs, name, count, rounds))
    return comparisons


def format_table(variant: Variant, commit: str, comparisons: list[Comparison]) -> str:
    rounds = len(comparisons[0].ours_ns) if comparisons else 0
    rows = [f"{variant.label}: whole models, this checkout against {commit[:12]}, {rounds} alternating rounds, "
            "pinned; ratio: median of the rounds' ratios (middle half in brackets)",
            f"{'model':24} {'threads':>7} {commit[:7] + ' ms':>10} {'ours ms':>9} {'ours/' + commit[:7]:>13}"
            f"  {'middle half':>13}"]
    for c in comparisons:
        low, high = c.spread
        rows.append(f"{c.model:24} {c.threads:>7} {c.theirs_ms:>10.4f} {c.ours_ms:>9.4f} {c.ratio:>12.3f}x"
                    f"  [{low:.3f}, {high:.3f}]")
    return "\n".join(rows)


def write_json(variant: Variant, commit: str, comparisons: list[Comparison], directory: Path = RESULTS_DIR) -> Path:
    data = {"variant": variant.label, "against": commit, "models": [
        {"model": c.model, "threads": c.threads, "ratio": c.ratio, "middle_half": list(c.spread),
         "ours_ms": c.ours_ms, "theirs_ms": c.theirs_ms, "ours_round_ns": list(c.ours_ns),
         "theirs_round_ns": list(c.theirs_ns)} for c in comparisons]}
    return write_results(f"against-{commit[:12]}-{variant.label}.json", data, directory)

"""`invoke ci`: the CI matrix, run locally. One job per target variant (each kernel table of a build,
each RISC-V vector length is its own job: one build serves them all, and short jobs balance across
cores where one long one would not), the harness's own tests, a fuzz job per fuzzing target, an
instruction-count check per target with [counts], and a clean-room job per Debian release the README
names. Jobs run in parallel up to the core count, each as its own `invoke` process with its own log and JUnit files under build/ci/<job>/;
the table at the end is read back from those JUnit files. The GitHub workflow (workflow.py) runs
each job with the same command, `invoke ci --job NAME`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from small_harness.core.paths import relative
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target

CI_DIR = REPO_ROOT / "build" / "ci"
DURATIONS_FILE = CI_DIR / "durations.json"
LOG_NAME = "log.txt"
HARNESS_JOB = "harness"
CLEAN_ROOM_RELEASES = ("debian12", "debian13")
CLEAN_ROOM_ENV = "SMALL_CLEAN_ROOM"  # set inside the clean room, whose `invoke ci` must not recurse
# First-run guesses of how long each kind of job takes (s), to start the longest first.
GUESSED_SECONDS = {"clean-room": 900.0, "emulated": 60.0, "native": 40.0, "harness": 30.0, "fuzz": 150.0,
                   "counts": 60.0}
FUZZ_SECONDS = 60  # per fuzzer in CI; `invoke fuzz --seconds 600` is the long local run


@dataclass(frozen=True)
class Job:
    name: str
    kind: str  # "target", "fuzz", "counts", "harness" or "clean-room"
    invoke_args: tuple[str, ...]  # what `invoke ci --job NAME` runs: `invoke <args>`
    target: str | None = None  # the target whose toolchain the job needs

    @property
    def directory(self) -> Path:
        return CI_DIR / self.name


def _junit_dir(job_name: str) -> str:
    return relative(CI_DIR / job_name)  # jobs run in the repository root


def ci_jobs(targets: Sequence[Target], toolchain: str = "auto") -> list[Job]:
    """Every job of the matrix, from the declared targets."""
    jobs = [Job(HARNESS_JOB, "harness", ("test", "--harness", "--toolchain", toolchain,
                                         "--junit-dir", _junit_dir(HARNESS_JOB)))]
    for target in targets:
        variants = target.variants()
        for variant in variants:
            args = ["test", "--arch", target.name, "--toolchain", toolchain]
            if len(variants) > 1:
                args += ["--variant", variant.suffix]
            jobs.append(Job(variant.label, "target", (*args, "--junit-dir", _junit_dir(variant.label)), target.name))
    for target in targets:
        if target.fuzzing:
            name = f"fuzz-{target.name}"
            jobs.append(Job(name, "fuzz", ("fuzz", "--seconds", str(FUZZ_SECONDS), "--arch", target.name,
                                           "--toolchain", toolchain, "--junit-dir", _junit_dir(name)), target.name))
    for target in targets:
        if target.counts is not None:
            # Host toolchain always: the plugin is a host library for the host's qemu-user. Where that
            # QEMU cannot load plugins the job skips, saying why (bench --check probes it).
            name = f"counts-{target.name}"
            jobs.append(Job(name, "counts", ("bench.counts", "--arch", target.name, "--check", "--toolchain", "host",
                                             "--junit-dir", _junit_dir(name)), target.name))
    for release in CLEAN_ROOM_RELEASES:
        name = f"clean-room-{release}"
        jobs.append(Job(name, "clean-room", ("clean-room", "--release", release, "--junit-dir", _junit_dir(name))))
    return jobs


def select_jobs(jobs: list[Job], names: str) -> list[Job]:
    """Jobs named in a comma list ('' for all); an unknown name lists the known ones."""
    if not names:
        return jobs
    by_name = {job.name: job for job in jobs}
    chosen = []
    for name in (word.strip() for word in names.split(",") if word.strip()):
        if name not in by_name:
            raise HarnessError(f"unknown job '{name}'; jobs: {', '.join(by_name)}")
        chosen.append(by_name[name])
    return chosen


@dataclass(frozen=True)
class Counts:
    cases: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def passed(self) -> int:
        return self.cases - self.failed - self.skipped

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.cases + other.cases, self.failed + other.failed, self.skipped + other.skipped)


def junit_counts(path: Path) -> Counts:
    """Test cases, failed (failures and errors) and skipped in a JUnit XML file, counted from its
    <testcase> elements (pytest and ctest write the suite totals differently)."""
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as error:
        raise HarnessError(f"{path}: not a readable JUnit XML file: {error}") from None
    cases = failed = skipped = 0
    for case in root.iter("testcase"):
        cases += 1
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is not None or case.get("status") in ("notrun", "disabled"):
            skipped += 1
    return Counts(cases, failed, skipped)


@dataclass(frozen=True)
class JobResult:
    job: Job
    returncode: int
    seconds: float
    counts: Counts

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.counts.failed == 0

    @property
    def log(self) -> Path:
        return self.job.directory / LOG_NAME


def job_counts(job: Job) -> Counts:
    total = Counts()
    for path in sorted(job.directory.glob("*.xml")):
        total = total + junit_counts(path)
    return total


def _load_durations() -> dict[str, float]:
    try:
        return {str(k): float(v) for k, v in json.loads(DURATIONS_FILE.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _expected_seconds(job: Job, targets: dict[str, Target], history: dict[str, float]) -> float:
    if job.name in history:
        return history[job.name]
    if job.kind != "target":
        return GUESSED_SECONDS[job.kind]
    return GUESSED_SECONDS["native" if targets[job.target or ""].is_native else "emulated"]


def _start(job: Job, environment: dict[str, str]) -> subprocess.Popen[bytes]:
    job.directory.mkdir(parents=True, exist_ok=True)
    for stale in job.directory.glob("*.xml"):
        stale.unlink()
    log = (job.directory / LOG_NAME).open("wb")
    command = [sys.executable, "-m", "invoke", *job.invoke_args]
    log.write(f"$ invoke {' '.join(job.invoke_args)}\n".encode())
    log.flush()
    return subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=environment)


def run_jobs(jobs: list[Job], targets: dict[str, Target], parallel: int, timeout_s: float) -> list[JobResult]:
    """Runs the jobs, at most `parallel` at a time, the longest expected first; prints a line as
    each starts and ends."""
    history = _load_durations()
    queue = sorted(jobs, key=lambda job: -_expected_seconds(job, targets, history))
    environment = {**os.environ, "PYTHONUNBUFFERED": "1"}
    running: dict[str, tuple[Job, subprocess.Popen[bytes], float]] = {}
    results: dict[str, JobResult] = {}
    started_all = time.monotonic()

    def stamp() -> str:
        return f"[{time.monotonic() - started_all:6.0f} s]"

    while queue or running:
        while queue and len(running) < parallel:
            job = queue.pop(0)
            running[job.name] = (job, _start(job, environment), time.monotonic())
            print(f"{stamp()} started  {job.name}", flush=True)
        time.sleep(0.5)
        for name, (job, process, started) in list(running.items()):
            elapsed = time.monotonic() - started
            if process.poll() is None and elapsed < timeout_s:
                continue
            if process.poll() is None:
                process.kill()
                with (job.directory / LOG_NAME).open("a") as log:
                    log.write(f"\nerror: the job ran past its {timeout_s:.0f} s limit and was stopped\n")
            code = process.wait()
            del running[name]
            try:
                counts = job_counts(job)
            except HarnessError as error:
                print(f"   {error.message}", flush=True)
                counts, code = Counts(), code or 1
            result = JobResult(job, code, elapsed, counts)
            results[name] = result
            verdict = "passed" if result.ok else "FAILED"
            print(f"{stamp()} {verdict:8} {job.name} ({counts.cases} cases, {elapsed:.0f} s)", flush=True)
    history.update({name: round(result.seconds, 1) for name, result in results.items()})
    CI_DIR.mkdir(parents=True, exist_ok=True)
    DURATIONS_FILE.write_text(json.dumps(history, indent=1, sort_keys=True) + "\n")
    return [results[job.name] for job in jobs]


def format_table(results: list[JobResult], wall_seconds: float) -> str:
    header = ("job", "cases", "passed", "failed", "skipped", "seconds", "log of a failed job")
    rows = [header]
    for r in results:
        rows.append((r.job.name, str(r.counts.cases), str(r.counts.passed), str(r.counts.failed),
                     str(r.counts.skipped), f"{r.seconds:.0f}", "" if r.ok else relative(r.log)))
    total = Counts()
    for r in results:
        total = total + r.counts
    rows.append(("all", str(total.cases), str(total.passed), str(total.failed), str(total.skipped),
                 f"{wall_seconds:.0f}", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for number, row in enumerate(rows):
        cells = [cell.ljust(widths[i]) if i in (0, 6) else cell.rjust(widths[i]) for i, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if number == 0 or number == len(rows) - 2:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(lines)


def failed_cases(job: Job, limit: int = 5) -> list[str]:
    """The names of a job's failed test cases (from its JUnit files) with the first line of each
    failure, so that a log that is not kept (a clean room's) still says what failed. A clean room's
    message lists its inner run's failures, so it is cut later."""
    width = 1000 if job.kind == "clean-room" else 200
    found: list[str] = []
    for path in sorted(job.directory.glob("*.xml")):
        try:
            root = ElementTree.parse(path).getroot()
        except (ElementTree.ParseError, OSError):
            continue
        for case in root.iter("testcase"):
            problem = case.find("failure")
            if problem is None:
                problem = case.find("error")
            if problem is not None:
                first = (problem.get("message") or problem.text or "").strip().splitlines()
                found.append(f"{case.get('classname', '')}::{case.get('name', '')}: {first[0][:width] if first else ''}")
    return found[:limit] + ([f"... and {len(found) - limit} more"] if len(found) > limit else [])


def reproduce_hint(results: list[JobResult]) -> str:
    failed = [r.job.name for r in results if not r.ok]
    return "" if not failed else "reproduce a failed job alone: " + "; ".join(f"invoke ci --job {n}" for n in failed)

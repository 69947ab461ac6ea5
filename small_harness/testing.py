"""`invoke test`: prepare each target (toolchain, build, ELF check, C self-test), run the pytest
suite once over all of them, and report per target what ran and what passed."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pytest

from .backends import Backend
from .build import LIBRARY_NAME, build
from .disasm import check_kernel_fmas
from .elfcheck import check_artifacts
from .errors import HarnessError
from .targets import REPO_ROOT, Target, missing_cpu_flags, select_vlens, variant_label

HOST_ONLY = "host"  # the bucket of tests that are not parametrised by target


@dataclass(eq=False)  # pytest keeps plugins in sets: identity hashing
class OutcomeCounter:
    """A pytest plugin that counts test outcomes per target parameter."""

    target_of: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Counter[str]] = field(default_factory=dict)

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            callspec = getattr(item, "callspec", None)
            self.target_of[item.nodeid] = callspec.params.get("variant", HOST_ONLY) if callspec else HOST_ONLY

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # One outcome per test: the call phase, or the setup phase when it failed or skipped.
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            bucket = self.counts.setdefault(self.target_of.get(report.nodeid, HOST_ONLY), Counter())
            bucket[report.outcome] += 1


def run_selftest(backend: Backend, target: Target, runner_dir: Path, vlen: int | None) -> str:
    """Runs the C self-test of a build (under QEMU for cross targets); returns its summary line."""
    command = target.emulator_command(vlen) + [str(runner_dir / "small_selftest")]
    result = backend.run(target, command, REPO_ROOT)
    lines = [line for line in result.output.strip().splitlines() if "vector version is not specified" not in line]
    last = (lines or ["no output"])[-1]
    if result.returncode != 0:
        raise HarnessError(f"{target.name}: C self-test failed ({' '.join(command)}): {last}")
    return last


def prepare_target(target: Target, backend: Backend, vlens: list[int | None]) -> None:
    """Readies the toolchain, builds, checks the ELF files and runs the C self-test at each vector
    length, printing each."""
    print(f"== {backend.prepare(target)}", flush=True)
    started = time.monotonic()
    result = build(target, backend=backend)
    check_artifacts(target, result.artifacts)
    print(f"   built {len(result.artifacts)} artifacts in {result.build_dir.relative_to(REPO_ROOT)} "
          f"({time.monotonic() - started:.1f} s), ELF checks passed")
    fmas = check_kernel_fmas(target, backend, result.build_dir / LIBRARY_NAME)
    if fmas:
        print("   vector FMAs in the kernels: " + ", ".join(
            f"{r.function} {r.fma_count}x {r.mnemonic}" for r in fmas if r.fma_count), flush=True)
    lacking = missing_cpu_flags(target)
    if lacking:
        print(f"   C self-test: skipped, this CPU lacks {' '.join(lacking)} (QEMU does not emulate it)")
        return
    for vlen in vlens:
        print(f"   C self-test{f' at VLEN {vlen}' if vlen else ''}: "
              f"{run_selftest(backend, target, result.build_dir, vlen)}", flush=True)


def run_tests(targets: Sequence[Target], backend: Backend, vlen_spec: str, pytest_args: Sequence[str]) -> bool:
    """Returns True when every target variant passed."""
    labels = []
    for target in targets:
        vlens = select_vlens(target, vlen_spec)
        prepare_target(target, backend, vlens)
        labels += [variant_label(target, vlen) for vlen in vlens]
    counter = OutcomeCounter()
    # `--opt=value` keeps pytest's early argument scan from taking a value for a test path
    # before tests/conftest.py has declared the option.
    args = [str(REPO_ROOT / "tests"), f"--arch={','.join(t.name for t in targets)}", f"--toolchain={backend.name}",
            "-q", "-p", "no:cacheprovider", f"--vlen={vlen_spec}", *pytest_args]
    started = time.monotonic()
    exit_code = pytest.main(args, plugins=[counter])
    elapsed = time.monotonic() - started
    print(f"\n== summary ({backend.name} toolchain, {elapsed:.0f} s)")
    all_passed = exit_code == 0
    for name in labels + [HOST_ONLY]:
        counts = counter.counts.get(name, Counter())
        total = sum(counts.values())
        if name == HOST_ONLY and not total:
            continue
        failed = counts["failed"]
        print(f"   {name:16} {total} cases run, {counts['passed']} passed, {failed} failed, "
              f"{counts['skipped']} skipped")
        if name != HOST_ONLY and counts["passed"] == 0:
            all_passed = False  # a target that ran nothing has not passed
    return all_passed

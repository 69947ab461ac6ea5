"""`invoke test`: prepare each target (toolchain, build, ELF check, C self-test under ctest), run the
target suite (tests/target/) once over all of them, and report per target what ran and what passed;
or run the harness's own suite (tests/harness/), which builds nothing. Both can write JUnit XML."""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pytest

from small_harness.core.paths import relative
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import LIBRARY_NAME, build
from small_harness.generate.cmake_toolchain import ctest_name
from small_harness.build.disasm import check_kernel_fmas
from small_harness.build.elf import check_artifacts
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target, Variant
from small_harness.targets.registry import check_variant_spec, missing_cpu_flags, select_variants

HOST_ONLY = "host"  # the bucket of tests that are not parametrised by target
TARGET_TESTS = REPO_ROOT / "tests" / "target"
HARNESS_TESTS = REPO_ROOT / "tests" / "harness"
PYTEST_JUNIT = "pytest.xml"


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


def selftest_junit_name(label: str) -> str:
    return f"selftest-{label}.xml"


def run_selftest(backend: Backend, target: Target, build_dir: Path, variant: Variant,
                 junit: Path | None = None) -> str:
    """Runs the C self-test of a build through ctest (under QEMU for cross targets, as the variant
    asks), optionally writing ctest's JUnit file; returns the self-test's summary line."""
    name = ctest_name(target, variant)
    command = ["ctest", "--test-dir", str(build_dir), "-R", f"^{re.escape(name)}$", "-V", "--no-tests=error"]
    if junit is not None:
        junit.parent.mkdir(parents=True, exist_ok=True)
        command += ["--output-junit", str(junit)]
    result = backend.run(target, command, REPO_ROOT)
    summary = [line.split(": ", 1)[-1] for line in result.output.splitlines() if re.search(r"\d+ passed, \d+ failed", line)]
    if result.returncode != 0:
        tail = [line for line in result.output.strip().splitlines() if line.strip()][-3:]
        raise HarnessError(f"{target.name}: C self-test {name} failed ({' '.join(command)})",
                           details="\n".join(tail))
    return summary[-1] if summary else "passed"


def prepare_target(target: Target, backend: Backend, variants: list[Variant], junit_dir: Path | None = None) -> None:
    """Readies the toolchain, builds, checks the ELF files and runs the C self-test of each
    variant, printing each."""
    print(f"== {backend.prepare(target)}", flush=True)
    started = time.monotonic()
    result = build(target, backend=backend)
    check_artifacts(target, result.artifacts)
    print(f"   built {len(result.artifacts)} artifacts in {relative(result.build_dir)} "
          f"({time.monotonic() - started:.1f} s), ELF checks passed", flush=True)
    fmas = check_kernel_fmas(target, backend, result.build_dir / LIBRARY_NAME)
    if fmas:
        print("   vector FMAs in the kernels: " + ", ".join(
            f"{r.function} {r.fma_count}x {r.mnemonic}" for r in fmas if r.fma_count), flush=True)
    for variant in variants:
        lacking = missing_cpu_flags(target, variant)
        if lacking:
            print(f"   C self-test {variant.label}: skipped, this CPU lacks {' '.join(lacking)} "
                  "(QEMU does not emulate it)", flush=True)
            continue
        junit = junit_dir / selftest_junit_name(variant.label) if junit_dir else None
        print(f"   C self-test {variant.label}: {run_selftest(backend, target, result.build_dir, variant, junit)}",
              flush=True)


def _junit_args(junit_dir: Path | None) -> list[str]:
    if junit_dir is None:
        return []
    junit_dir.mkdir(parents=True, exist_ok=True)
    return [f"--junitxml={junit_dir / PYTEST_JUNIT}"]


def run_tests(targets: Sequence[Target], backend: Backend, variant_spec: str, pytest_args: Sequence[str],
              junit_dir: Path | None = None) -> bool:
    """The target suite; returns True when every target variant passed."""
    check_variant_spec(list(targets), variant_spec)
    labels = []
    cpu_lacks: set[str] = set()  # variants this CPU cannot run: their tests skip, saying so
    for target in targets:
        variants = select_variants(target, variant_spec)
        prepare_target(target, backend, variants, junit_dir)
        labels += [variant.label for variant in variants]
        cpu_lacks |= {variant.label for variant in variants if missing_cpu_flags(target, variant)}
    counter = OutcomeCounter()
    # `--opt=value` keeps pytest's early argument scan from taking a value for a test path
    # before tests/conftest.py has declared the option.
    args = [str(TARGET_TESTS), f"--arch={','.join(t.name for t in targets)}", f"--toolchain={backend.name}",
            "-q", "-p", "no:cacheprovider", f"--variant={variant_spec}", *_junit_args(junit_dir), *pytest_args]
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
        if name != HOST_ONLY and counts["passed"] == 0 and name not in cpu_lacks and not pytest_args:
            all_passed = False  # a variant that ran nothing has not passed (unless a -k chose so)
    return all_passed


def run_harness_tests(toolchain: str, pytest_args: Sequence[str], junit_dir: Path | None = None) -> bool:
    """The harness's own suite: no target is built. Returns True when it passed."""
    args = [str(HARNESS_TESTS), f"--toolchain={toolchain}", "-q", "-p", "no:cacheprovider",
            *_junit_args(junit_dir), *pytest_args]
    return pytest.main(args) == 0

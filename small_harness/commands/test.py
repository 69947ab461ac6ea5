"""`invoke test`: a target's suite (after its build, ELF and FMA checks and C self-test), or the harness's."""

from __future__ import annotations

from pathlib import Path

from small_harness.ci.testing import run_harness_tests, run_tests
from small_harness.commands.common import chosen_backend, usable_targets
from small_harness.core.errors import HarnessError
from small_harness.targets.registry import resolve_targets


def test(arch: str, toolchain: str, variant: str, harness: bool, junit_dir: Path | None, pytest_args: list[str]) -> None:
    if harness:
        passed = run_harness_tests(toolchain, pytest_args, junit_dir)
    else:
        resolve_targets(arch)  # an unknown --arch is reported before any backend work
        backend = chosen_backend(toolchain)
        passed = run_tests(usable_targets(resolve_targets(arch, backend=backend.name), backend), backend, variant, pytest_args, junit_dir)
    if not passed:
        raise HarnessError("tests failed (see above)")

"""`invoke repro` and `invoke debug`: a saved case on a fresh runner, alone or under a debugger."""

from __future__ import annotations

from pathlib import Path

from small_harness.commands.common import chosen_backend
from small_harness.core.errors import HarnessError
from small_harness.runner.client import describe_exit
from small_harness.runner.repro import debug as debug_case
from small_harness.runner.launch import target_and_variant
from small_harness.runner.repro import replay


def repro(case: Path, arch: str, toolchain: str) -> None:
    target_and_variant(arch, "host")  # an unknown --arch is reported before any backend work
    backend = chosen_backend(toolchain)
    target, variant = target_and_variant(arch, backend.name)
    outcome = replay(case, target, variant, backend)
    print(outcome.summary)
    if outcome.crashed:
        raise HarnessError(f"reproduced: {outcome.summary}")


def debug(case: Path, arch: str, toolchain: str, port: int) -> None:
    target_and_variant(arch, "host")
    backend = chosen_backend(toolchain)
    target, variant = target_and_variant(arch, backend.name)
    code = debug_case(case, target, variant, backend, port)
    if code != 0:
        print(f"the runner ended with {describe_exit(code)}")

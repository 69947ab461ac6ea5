"""`invoke fuzz`: the libFuzzer targets of every fuzzing target, side by side, and one table."""

from __future__ import annotations

from pathlib import Path

from small_harness.build.cmake import FUZZER_NAMES
from small_harness.ci.fuzzing import format_table, fuzz_targets, run_fuzzers, write_junit
from small_harness.commands.common import chosen_backend
from small_harness.core.errors import HarnessError
from small_harness.targets.registry import resolve_targets


def fuzz(seconds: int, arch: str, toolchain: str, junit_dir: Path | None) -> None:
    fuzz_targets(resolve_targets(arch))
    backend = chosen_backend(toolchain)
    results = []
    for target in fuzz_targets(resolve_targets(arch, backend=backend.name)):
        print(f"== {target.name}: {len(FUZZER_NAMES)} fuzzers for {seconds} s each", flush=True)
        results += run_fuzzers(target, backend, seconds)
    print(format_table(results))
    if junit_dir:
        write_junit(results, junit_dir)
    if not all(result.ok for result in results):
        raise HarnessError("the fuzzers found inputs that fail (kept in tests/fuzz/regressions/; commit them with the fix)")

"""Starting a runner for a target variant: which one an --arch names (riscv64@vlen256), its command (the
emulator, the variant's environment), the deadline its emulation calls for, and the command that replays a
case it failed on."""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from small_harness.core.errors import HarnessError
from small_harness.core.paths import relative
from small_harness.runner.client import CRASH_KERNEL_ENV, Runner, exchange_deadline
from small_harness.targets.registry import resolve_targets, variant_named
from small_harness.targets.types import Target, Variant
from small_harness.toolchain.backends import Backend


def target_and_variant(arch: str, backend: str) -> tuple[Target, Variant | None]:
    """One target, or one variant of it by label (riscv64@vlen256, or through an alias: x86@avx2); without
    a label, None: the library's own choice of kernels on the default CPU. An unknown label is one error
    naming the target's labels."""
    name, at, suffix = arch.partition("@")
    targets = resolve_targets(name, backend)
    if len(targets) != 1:
        raise HarnessError(f"--arch names {len(targets)} targets; give one (or one variant, e.g. riscv64@vlen256)")
    if not at:
        return targets[0], None
    return variant_named(f"{targets[0].name}@{suffix}", backend)


def repro_hint(target: Target, variant: Variant | None, backend: Backend, case: Path) -> str:
    """The command that replays `case` alone, as the runner that failed ran it."""
    crash = os.environ.get(CRASH_KERNEL_ENV, "")
    prefix = f"{CRASH_KERNEL_ENV}={shlex.quote(crash)} " if crash else ""
    arch = variant.label if variant is not None else target.name
    return f"{prefix}invoke repro {relative(case)} --arch {arch} --toolchain {backend.name}"


def runner_argv(target: Target, variant: Variant | None, runner: Path, emulator_args: list[str] = []) -> list[str]:
    """The runner's argv on the target (before the backend wraps it). The crash-test variable is passed
    on explicitly, since a toolchain container does not inherit this process's environment."""
    crash = os.environ.get(CRASH_KERNEL_ENV, "")
    command = target.run_command(variant)
    if emulator_args:
        emulator = command.index(target.emulator.binary) if target.emulator else len(command)
        command = command[: emulator + 1] + emulator_args + command[emulator + 1 :]
    if crash:
        command = ["env", f"{CRASH_KERNEL_ENV}={crash}"] + command
    return command + [str(runner)]


def start_runner(target: Target, variant: Variant | None, backend: Backend, runner: Path) -> Runner:
    """A runner for one variant with the deadline its emulation calls for and a reproducer hint."""
    command = backend.interactive_command(target, runner_argv(target, variant, runner))
    return Runner(command, deadline_s=exchange_deadline(emulated=target.emulated(variant)),
                  reproduce=lambda case: repro_hint(target, variant, backend, case))

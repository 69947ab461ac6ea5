"""Replaying a saved case file alone (`invoke repro`) or under QEMU's gdbstub (`invoke debug`).

A case file is the exact byte stream of runner requests that crashed or hung (the model load first
when it was a model run), ending with a quit: build/crashes/*.case, written by runner.Runner."""

from __future__ import annotations

import shlex
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import build
from small_harness.core.errors import HarnessError
from small_harness.runner.client import describe_exit, exchange_deadline, sanitizer_finding
from small_harness.targets.types import Target, Variant
from small_harness.core.paths import relative
from small_harness.runner.launch import runner_argv
from small_harness.core.tools import program


@dataclass(frozen=True)
class Replay:
    crashed: bool
    summary: str  # how the runner ended, in words


def _read_case(case: Path) -> bytes:
    try:
        return case.read_bytes()
    except OSError as error:
        raise HarnessError(f"{case}: cannot read the case file ({error.strerror})") from None


def replay(case: Path, target: Target, variant: Variant | None, backend: Backend) -> Replay:
    """Feeds a case file to a fresh runner and reports how it ended."""
    data = _read_case(case)
    result = build(target, backend)
    command = backend.interactive_command(target, runner_argv(target, variant, result.runner))
    deadline = exchange_deadline(emulated=not target.is_native)
    try:
        done = subprocess.run(command, input=data, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=deadline)
    except subprocess.TimeoutExpired:
        return Replay(True, f"the runner hung: no exit within {deadline:g} s ({shlex.join(command)})")
    stderr = done.stderr.decode("utf-8", "replace").strip()
    detail = sanitizer_finding(stderr) or " | ".join(stderr.splitlines()[-3:])
    # 0: served to the quit; 2: refused a malformed request, which is a clean outcome too.
    crashed = done.returncode not in (0, 2)
    how = f"the runner died with {describe_exit(done.returncode)}" if crashed else \
        f"the runner served the case and exited cleanly ({describe_exit(done.returncode)})"
    return Replay(crashed, how + (f": {detail}" if detail and crashed else ""))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def debug(case: Path, target: Target, variant: Variant | None, backend: Backend, port: int = 0) -> int:
    """Runs the case under QEMU's gdbstub, waiting for gdb-multiarch to attach, and prints the command
    that attaches it; for a native target, prints the gdb command that runs the case. Returns the
    runner's exit status (0 for native, where nothing runs here)."""
    _read_case(case)
    result = build(target, backend)
    gdb = program("gdb-multiarch")
    runner = relative(result.runner)
    if target.emulator is None:
        print(f"{target.name} runs natively; debug the case with:\n"
              f"  {gdb} -ex 'run < {relative(case)}' {runner}")
        return 0
    if backend.name != "host":
        raise HarnessError("invoke debug runs QEMU on this machine, where gdb can reach its port: use --toolchain "
                           "host (ci/setup.sh installs the cross toolchains, QEMU and gdb-multiarch)")
    port = port or _free_port()
    command = runner_argv(target, variant, result.runner, ["-g", str(port)])
    sysroot = f" -ex 'set sysroot {target.compiler.sysroot}'" if target.compiler.sysroot else ""
    print(f"QEMU waits for a debugger on port {port}. In another terminal:\n"
          f"  {gdb}{sysroot} -ex 'target remote localhost:{port}' -ex continue {runner}\n"
          f"  ({shlex.join(command)} < {relative(case)})", flush=True)
    with case.open("rb") as stdin:
        return subprocess.run(command, stdin=stdin, stdout=subprocess.DEVNULL).returncode

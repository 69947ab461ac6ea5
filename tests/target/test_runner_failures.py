"""A runner that hangs or crashes fails one case, by name, with a reproducer, and the session goes on:
a stopped runner (SIGSTOP) is a timeout within its deadline; a kernel made to segfault
(SMALL_RUNNER_CRASH_KERNEL, runner.c) reports the signal, the layer and a command that, run alone,
crashes the same way."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from small_harness.runner import layers as L
from small_harness.runner import protocol as protocol
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import BuildResult
from small_harness.runner.launch import start_runner
from small_harness.runner.client import CRASH_KERNEL_ENV, RunnerCrashed, RunnerTimeout, exchange_deadline
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target, Variant

pytestmark = pytest.mark.per_target

CONV = L.Conv2D(out_channels=4, kernel=(3, 3))
SHORT_DEADLINE_S = 3.0
# The signal, or a sanitizer's report of the bad store: ASan's (clang), UBSan's (GCC checks for NULL first).
# The crash switch is an environment variable, which a bare-metal program has none of, and a bad
# store there is a HardFault in picolibc's handler, not a signal.
BARE_METAL_CRASH = "bare metal: no environment for the crash switch, no signals (a fault is a HardFault)"
CRASH_SIGNS = ("SIGSEGV", "AddressSanitizer: SEGV", "ThreadSanitizer: SEGV", "store to null pointer")


def _conv_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((6, 6, 4), dtype=np.float32)
    w = rng.standard_normal((3, 3, 4, 4), dtype=np.float32)
    return x, w.reshape(-1), np.zeros(4, np.float32)


def _invoke(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Runs a printed command line (`[VAR=value ...] invoke ...`) as a user would, with this
    environment's invoke."""
    words = shlex.split(command)
    at = words.index("invoke")
    assignments = dict(word.split("=", 1) for word in words[:at])
    argv = [str(Path(sys.executable).with_name("invoke")), *words[at + 1:]]
    return subprocess.run(argv, cwd=REPO_ROOT, env={**env, **assignments}, capture_output=True, text=True,
                          timeout=600)


def _stop_group(pgid: int, seconds: float = 10.0) -> None:
    """SIGSTOP to a process group, returning once every thread of every member is stopped: a thread
    still running on the other core when kill() returns could relay one more request (a loaded CI
    machine, the docker CLI's threads)."""
    os.killpg(pgid, signal.SIGSTOP)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        states = []
        for stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # a thread that ended meanwhile
            if int(fields[2]) == pgid:  # fields: state, ppid, pgrp, ...
                states.append(fields[0])
        if states and all(state in "Tt" for state in states):
            return
        time.sleep(0.01)
    raise AssertionError(f"process group {pgid} did not stop within {seconds:g} s")


def test_a_stopped_runner_is_a_named_timeout_and_the_next_case_runs(
        target_variant: tuple[Target, Variant], backend: Backend, build_result: BuildResult,
        monkeypatch: pytest.MonkeyPatch) -> None:
    target, variant = target_variant
    x, w, b = _conv_case()
    with start_runner(target, variant, backend, build_result.runner) as runner:
        expected = runner.run(CONV, [x], w, b).output  # started under the usual deadline: a loaded CI
        runner.deadline_s = SHORT_DEADLINE_S  # machine may take seconds to start QEMU with sanitizers
        _stop_group(runner.pid)  # its process group: QEMU and, on bare metal, the relays
        started = time.monotonic()
        with pytest.raises(RunnerTimeout) as failure:
            runner.run(CONV, [x], w, b)
        waited = time.monotonic() - started
        assert waited < SHORT_DEADLINE_S + 10, f"the timeout came after {waited:.1f} s"
        message = str(failure.value)
        assert f"timed out after {SHORT_DEADLINE_S:g} s" in message and "Conv2D" in message, message
        assert "invoke repro build/crashes/" in message, message
        # The next case starts a fresh runner and gets the same answer.
        runner.deadline_s = exchange_deadline(emulated=not target.is_native)
        np.testing.assert_array_equal(runner.run(CONV, [x], w, b).output, expected)


def test_a_segfaulting_kernel_names_signal_layer_and_a_reproducer(
        target_variant: tuple[Target, Variant], backend: Backend, build_result: BuildResult,
        monkeypatch: pytest.MonkeyPatch) -> None:
    target, variant = target_variant
    if target.is_bare_metal:
        pytest.skip(BARE_METAL_CRASH)
    monkeypatch.setenv(CRASH_KERNEL_ENV, "conv")
    x, w, b = _conv_case()
    with start_runner(target, variant, backend, build_result.runner) as runner:
        with pytest.raises(RunnerCrashed) as failure:
            runner.run(CONV, [x], w, b)
        message = str(failure.value)
        # Plain builds die by the signal; a sanitizer build catches it and names it.
        assert any(sign in message for sign in CRASH_SIGNS), message
        assert "layer Conv2D" in message and "6x6x4" in message, message
        found = re.search(r"reproduce alone: (.+)", message)
        assert found, message
        # A layer the crash does not touch still runs on the restarted runner.
        relu = L.Activate("relu")
        np.testing.assert_array_equal(runner.run(relu, [x]).output, np.maximum(x, 0))

    replayed = _invoke(found.group(1), dict(os.environ))
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "error: reproduced: the runner died with" in replayed.stderr, replayed.stderr
    assert any(sign in replayed.stderr for sign in CRASH_SIGNS), replayed.stderr

    # Without the crash switch the same case file is served cleanly: the case holds the whole request.
    environment = {k: v for k, v in os.environ.items() if k != CRASH_KERNEL_ENV}
    clean = _invoke(found.group(1).removeprefix(f"{CRASH_KERNEL_ENV}=conv "), environment)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "exited cleanly" in clean.stdout, clean.stdout


def _listening(port: int) -> bool:
    """Whether some socket listens on the port, read from /proc/net (a test connection would be
    taken by QEMU's gdbstub as the debugger, which then runs on without one when it closes)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":  # 0A: LISTEN
                return True
    return False


def _wait_for_port(port: int, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not _listening(port):
        if time.monotonic() > deadline:
            raise AssertionError(f"QEMU's gdbstub did not open port {port} within {seconds:g} s")
        time.sleep(0.2)


def test_debug_stops_in_gdb_at_the_crash(target_variant: tuple[Target, Variant], backend: Backend,
                                         build_result: BuildResult, scratch_dir: Path) -> None:
    """`invoke debug` runs a case under QEMU's gdbstub; the gdb-multiarch command it prints attaches,
    and gdb stops at the segfault."""
    target, variant = target_variant
    if target.is_bare_metal:
        pytest.skip(BARE_METAL_CRASH)
    if target.emulator is None or backend.name != "host":
        pytest.skip("invoke debug attaches gdb to QEMU's gdbstub: emulated targets, host toolchain")
    x, w, b = _conv_case()
    fields = protocol.layer_fields(CONV, [x.shape])
    fields.update(has_weights=1, has_bias=1, repeat=1)
    case = scratch_dir / "conv.case"
    case.write_bytes(protocol.encode_layer(fields, 0.0, w, b, [x]) + protocol.encode_quit())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    environment = {**os.environ, CRASH_KERNEL_ENV: "conv"}
    debug = subprocess.Popen([str(Path(sys.executable).with_name("invoke")), "debug", str(case), "--arch",
                              variant.label, "--toolchain", "host", "--port", str(port)], cwd=REPO_ROOT,
                             env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert debug.stdout is not None
        attach = ""
        for line in debug.stdout:
            if "target remote" in line:
                attach = line.strip()
                break
        assert attach.startswith(("gdb-multiarch", "/usr/bin/gdb-multiarch")), attach
        # The printed command, in batch mode: continue to the crash, then show where it is.
        argv = shlex.split(attach)
        argv[1:1] = ["-batch", "-nx"]
        argv[-1:-1] = ["-ex", "bt 3"]
        _wait_for_port(port)  # QEMU opens it as it starts, which takes a while on a loaded machine
        gdb = subprocess.run(argv, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
        output = gdb.stdout + gdb.stderr
        if any(flag.startswith("-fsanitize") for flag in target.compiler.flags):
            # The sanitizer catches the bad store first, reports it and exits 1, under gdb too.
            assert "SIGSEGV" in output or "exited with code 01" in output, output
        else:
            assert "SIGSEGV" in output, output
    finally:
        debug.kill()
        debug.wait()

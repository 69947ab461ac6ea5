"""A long-lived small_runner process (under QEMU, or native) and the Python API to run layers on it."""

from __future__ import annotations


import os
import re
import select
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Callable, Sequence, TypeVar

import numpy as np

from small_harness.runner import layers as L
from small_harness.runner import protocol as protocol
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT


T = TypeVar("T")


class SmallError(Exception):
    """The C library refused a layer: carries its status name and its one-line reason."""

    def __init__(self, status_name: str, message: str):
        super().__init__(f"{status_name}: {message}")
        self.status_name = status_name
        self.message = message


class RunnerCrashed(HarnessError):
    """The runner process died or broke the protocol."""


class RunnerTimeout(RunnerCrashed):
    """The runner gave no reply within its deadline (it hung, looped, or was stopped), and was killed."""


@dataclass(frozen=True)
class KernelInfo:
    name: str
    pixel_tile: int
    channel_tile: int  # 0: all channels in one call
    winograd: str = ""  # conv kernels: the name its Winograd layers report, "" without the transforms


@dataclass(frozen=True)
class RunnerInfo:
    isas: tuple[str, ...]  # the kernel tables of the build, best first
    supported: tuple[str, ...]  # those this CPU runs
    selected: tuple[str, ...]  # the chain in force
    select_error: str  # why SMALL_KERNELS was refused, or ""
    kernels: dict[str, KernelInfo]  # by kind: conv, dwconv, maxpool, avgpool, add, copy, softmax, fc, s8_conv,
    # s8_dwconv, s8_fc
    # by kind, the narrower tiles of the same kind after kernels[kind] (RVV's conv per register group)
    narrower: dict[str, tuple[KernelInfo, ...]] = field(default_factory=dict)

    def variants(self, kind: str) -> tuple[KernelInfo, ...]:
        """Every tile of a kind, widest first."""
        return (self.kernels[kind], *self.narrower.get(kind, ()))

    def kernel_for(self, kind: str, channels: int) -> KernelInfo:
        """The variant the library takes for `channels` output channels per group: the fewest idle lanes
        over its channel blocks, the wider on a tie (lib/src/kernels.c, small_choose_kernel)."""
        def idle(kernel: KernelInfo) -> int:
            tile = kernel.channel_tile
            return -(-channels // tile) * tile - channels if tile else 0
        best = self.kernels[kind]
        for kernel in self.narrower.get(kind, ()):
            if idle(kernel) < idle(best):
                best = kernel
        return best


@dataclass(frozen=True)
class LayerResult:
    output: np.ndarray
    kernel: str
    elapsed_ns: int


def _hwc(array: np.ndarray, what: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != 3:
        raise ValueError(f"{what} must be an HWC array (3 dimensions), got shape {array.shape}")
    return np.ascontiguousarray(array, dtype=np.float32)


DEADLINE_ENV = "SMALL_RUNNER_DEADLINE"
NATIVE_DEADLINE_S = 30.0  # for one exchange; the slowest native case takes well under a second
EMULATED_DEADLINE_S = 300.0  # QEMU is 700-2000x slower, and the largest emulated cases take seconds
EXIT_WAIT_S = 5.0  # how long a runner whose output ended gets to exit, to learn how it died
CRASH_DIR = REPO_ROOT / "build" / "crashes"
CRASH_KERNEL_ENV = "SMALL_RUNNER_CRASH_KERNEL"  # the runner segfaults in place of such a kernel (runner.c)


def exchange_deadline(emulated: bool) -> float:
    """Seconds a runner gets to answer one request: SMALL_RUNNER_DEADLINE, else by whether it is emulated."""
    text = os.environ.get(DEADLINE_ENV, "")
    try:
        return float(text) if text else (EMULATED_DEADLINE_S if emulated else NATIVE_DEADLINE_S)
    except ValueError:
        raise HarnessError(f"{DEADLINE_ENV}={text!r} is not a number of seconds") from None


def describe_exit(code: int | None) -> str:
    """"SIGSEGV (exit -11)": a signal by name, also through docker exec and shells (128 + signal)."""
    if code is None:
        return "still running"
    number = -code if code < 0 else code - 128 if 128 < code < 128 + 65 else 0
    if number:
        try:
            return f"{signal.Signals(number).name} (exit {code})"
        except ValueError:
            pass
    return f"exit {code}"


def sanitizer_finding(stderr: str) -> str:
    """The line where ASan or UBSan says what went wrong, or ""."""
    for line in stderr.splitlines():
        if re.search(r"ERROR: \w+Sanitizer|runtime error:|SUMMARY: \w+Sanitizer", line):
            return line.strip()
    return ""


class _Timeout(Exception):
    pass


class _DeadlineReader:
    """Reads a pipe as protocol.read_* wants (read(n) returns n bytes, or fewer at the end), but
    raises _Timeout when the deadline passes first."""

    def __init__(self, fd: int, deadline: float):
        self.fd = fd
        self.deadline = deadline

    def read(self, n: int) -> bytes:
        chunks: list[bytes] = []
        remaining = n
        while remaining:
            left = self.deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise _Timeout()
            chunk = os.read(self.fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)


def _write_all(fd: int, data: bytes, deadline: float) -> None:
    view = memoryview(data)
    while view:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([], [fd], [], left)[1]:
            raise _Timeout()
        view = view[os.write(fd, view[: 1 << 16]):]


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL to the runner command's process group (its own session, see Runner)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class Runner:
    """Serves many layers per process. Every exchange has a deadline: a runner that hangs or stops is
    killed and reported as a timeout, and, like one that crashed, restarted for the next call. A
    crash or a hang saves the request as a case file under build/crashes/ that `invoke repro` replays."""

    def __init__(self, command: Sequence[str], deadline_s: float = NATIVE_DEADLINE_S,
                 reproduce: Callable[[Path], str] | None = None):
        self.command = list(command)
        self.deadline_s = deadline_s
        self.reproduce = reproduce  # the command that replays a saved case file alone
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()
        self._model_request = b""  # the last model load, which a model run's case file needs
        self.cases_run = 0

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._stderr.seek(0)
            self._stderr.truncate()
            try:
                # A session (and process group) of its own: a kill takes every process of the command
                # along (a bare-metal runner is a bridge script, QEMU and two relays).
                self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                 stderr=self._stderr, bufsize=0, start_new_session=True)
            except OSError as error:
                raise RunnerCrashed(f"cannot start the runner ({' '.join(self.command)}): {error}") from None
            assert self._process.stdin is not None
            os.set_blocking(self._process.stdin.fileno(), False)
            if self._model_request:  # a restarted runner has the model the caller loaded before
                self._model_request, request = b"", self._model_request
                self._exchange(request, protocol.read_model_load_reply, "model load (again, after a restart)")
                self._model_request = request
        return self._process

    @property
    def pid(self) -> int:
        """The process the runner command started (started now if need be)."""
        return self._ensure_started().pid

    def _save_case(self, request: bytes, what: str) -> Path:
        """The request (after the model load it needs) as a case file, named by time and layer."""
        CRASH_DIR.mkdir(parents=True, exist_ok=True)
        head, _, shapes = what.partition(" on ")
        stem = re.sub(r"[^A-Za-z0-9]+", "-", f"{head.split('(')[0]} {shapes}").strip("-")[:60]
        path = CRASH_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{stem}.case"
        prefix = self._model_request if request.startswith(protocol.encode_model_run_prefix()) else b""
        path.write_bytes(prefix + request + protocol.encode_quit())
        return path

    def _stopped(self, why: str, request: bytes, what: str, hung: bool) -> RunnerCrashed:
        process = self._process
        self._process = None
        code = None
        if process is not None:
            if not hung:  # its output ended: let it finish dying, to learn how
                try:
                    process.wait(timeout=EXIT_WAIT_S)
                except subprocess.TimeoutExpired:
                    pass
            if process.poll() is None:
                _kill_group(process)  # works on a stopped process too
            code = process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace").strip()
        finding = sanitizer_finding(stderr)
        tail = stderr.splitlines()[-3:]
        case = self._save_case(request, what)
        how = f"timed out after {self.deadline_s:g} s without a reply" if hung else f"died with {describe_exit(code)}"
        lines = [f"runner {how} in {what}: {why}"]
        if finding:
            lines.append(f"  sanitizer: {finding}")
        elif tail:
            lines.append(f"  stderr: {' | '.join(tail)}")
        lines.append(f"  case saved: {case}")
        if self.reproduce is not None:
            lines.append(f"  reproduce alone: {self.reproduce(case)}")
        lines.append(f"  command: {' '.join(self.command)}")
        error_type = RunnerTimeout if hung else RunnerCrashed
        return error_type("\n".join(lines))

    def _exchange(self, request: bytes, read_payload: Callable[[IO[bytes]], T],
                  what: str) -> tuple[protocol.ReplyHeader, T]:
        process = self._ensure_started()
        assert process.stdin is not None and process.stdout is not None
        deadline = time.monotonic() + self.deadline_s
        try:
            _write_all(process.stdin.fileno(), request, deadline)
            reader = _DeadlineReader(process.stdout.fileno(), deadline)
            header = protocol.read_header(reader)  # type: ignore[arg-type]
            return header, read_payload(reader)  # type: ignore[arg-type]
        except _Timeout:
            raise self._stopped("no reply", request, what, hung=True) from None
        except (BrokenPipeError, protocol.ProtocolError) as error:
            raise self._stopped(str(error), request, what, hung=False) from None

    def info(self) -> RunnerInfo:
        _, text = self._exchange(protocol.encode_info(), protocol.read_info_text, "info")
        lists: dict[str, tuple[str, ...]] = {}
        kernels, select_error = {}, ""
        narrower: dict[str, tuple[KernelInfo, ...]] = {}
        for line in text.splitlines():
            key, _, rest = line.partition(" ")
            if key in ("isas", "supported", "selected"):
                lists[key] = tuple(rest.split())
            elif key == "select-error":
                select_error = rest
            elif key in ("kernel", "variant"):
                words = rest.split()
                kernel = KernelInfo(words[1], int(words[2]), int(words[3]))
                if key == "kernel":
                    kernels[words[0]] = kernel
                else:
                    narrower[words[0]] = (*narrower.get(words[0], ()), kernel)
            elif key == "winograd":  # after the conv lines it names
                conv, winograd = rest.split()
                if kernels.get("conv", KernelInfo("", 0, 0)).name == conv:
                    kernels["conv"] = replace(kernels["conv"], winograd=winograd)
                narrower["conv"] = tuple(replace(k, winograd=winograd) if k.name == conv else k
                                         for k in narrower.get("conv", ()))
        return RunnerInfo(lists.get("isas", ()), lists.get("supported", ()), lists.get("selected", ()), select_error,
                          kernels, narrower)

    def run(self, layer: L.Layer, inputs: Sequence[np.ndarray], weights: np.ndarray | None = None,
            bias: np.ndarray | None = None, repeat: int = 1) -> LayerResult:
        """Runs one layer on HWC float32 inputs; raises SmallError when the library refuses it."""
        arrays = [_hwc(x, f"input {i}") for i, x in enumerate(inputs)]
        fields = protocol.layer_fields(layer, [(a.shape[0], a.shape[1], a.shape[2]) for a in arrays])
        fields.update(has_weights=int(weights is not None), has_bias=int(bias is not None), repeat=repeat)
        request = protocol.encode_layer(fields, float(getattr(layer, "alpha", 0.0)), weights, bias, arrays)
        shapes = " + ".join("x".join(map(str, a.shape)) for a in arrays)
        header, reply = self._exchange(request, protocol.read_layer_reply, f"layer {layer!r} on {shapes}")
        self.cases_run += 1
        if header.status != 0 or reply.output is None:
            raise SmallError(header.status_name, header.message)
        return LayerResult(reply.output, reply.kernel, reply.elapsed_ns)

    def run_s8(self, layer: L.Conv2D | L.FullyConnected, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None,
               quant: protocol.Quantization, repeat: int = 1) -> LayerResult:
        """Runs one int8 layer (small_layer_plan_s8: conv, depthwise, fully connected) on an HWC int8 input,
        weights int8 (OHWI, or [out][K]), bias int32; raises SmallError when the library refuses it."""
        x = np.asarray(x)
        if x.ndim != 3:
            raise ValueError(f"the input must be an HWC array (3 dimensions), got shape {x.shape}")
        fields = protocol.layer_fields(layer, [(x.shape[0], x.shape[1], x.shape[2])])
        fields.update(has_weights=1, has_bias=int(bias is not None), repeat=repeat)
        request = protocol.encode_layer_s8(fields, quant, weights, bias, x)
        header, reply = self._exchange(request, protocol.read_layer_reply_s8,
                                       f"int8 layer {layer!r} on {'x'.join(map(str, x.shape))}")
        self.cases_run += 1
        if header.status != 0 or reply.output is None:
            raise SmallError(header.status_name, header.message)
        return LayerResult(reply.output, reply.kernel, reply.elapsed_ns)

    def load_model(self, model_file: bytes, arena_bytes: int | None = None) -> protocol.ModelReply:
        """Loads a model file (model_format.encode) into the runner, replacing the previous one;
        raises SmallError with the C loader's reason when it refuses the file. With arena_bytes, the
        arena is a buffer of that size given to small_model_load_with_arena."""
        request = protocol.encode_model_load(model_file, arena_bytes)
        header, reply = self._exchange(request, protocol.read_model_load_reply, "model load")
        self._model_request = request if header.status == 0 else b""
        if header.status != 0:
            raise SmallError(header.status_name, header.message)
        return reply

    def pack_model(self, model_file: bytes) -> bytes:
        """The model file pre-packed for this runner's build (format version 3: the weights as its
        kernels read them, loaded in place, under a checksum); the loaded model stays. SmallError if
        refused."""
        header, packed = self._exchange(protocol.encode_model_pack(model_file), protocol.read_bytes_reply, "model pack")
        if header.status != 0:
            raise SmallError(header.status_name, header.message)
        return packed

    def run_model(self, x: np.ndarray, repeat: int = 1) -> LayerResult:
        """One inference (or `repeat`, timed together) of the loaded model on an HWC input."""
        data = np.ascontiguousarray(x, dtype=np.float32)
        header, reply = self._exchange(protocol.encode_model_run(data, repeat), protocol.read_layer_reply,
                                       f"model run on {'x'.join(map(str, data.shape))}")
        if header.status != 0 or reply.output is None:
            raise SmallError(header.status_name, header.message)
        return LayerResult(reply.output, "", reply.elapsed_ns)

    def set_threads(self, threads: int) -> None:
        """Threads for every later layer and model run (small_set_threads); SmallError if refused."""
        header, _ = self._exchange(protocol.encode_threads(threads), lambda stream: None, f"set {threads} threads")
        if header.status != 0:
            raise SmallError(header.status_name, header.message)

    def close(self, check: bool = True) -> None:
        """Asks the runner to quit. With `check`, a runner that then exits badly (a sanitizer's leak
        report, a crash on the way out) raises RunnerCrashed."""
        process, self._process = self._process, None
        code = 0
        if process is not None and process.poll() is None:
            try:
                assert process.stdin is not None
                _write_all(process.stdin.fileno(), protocol.encode_quit(), time.monotonic() + self.deadline_s)
                process.stdin.close()
                code = process.wait(timeout=self.deadline_s)
            except (BrokenPipeError, _Timeout, subprocess.TimeoutExpired):
                _kill_group(process)
                process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read().decode("utf-8", "replace").strip()
        self._stderr.close()
        if check and code != 0:
            finding = sanitizer_finding(stderr) or " | ".join(stderr.splitlines()[-3:])
            raise RunnerCrashed(f"runner {' '.join(self.command)} exited with {describe_exit(code)} when asked "
                                f"to quit: {finding}")

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(check=exc_type is None)

"""A long-lived small_runner process (under QEMU, or native) and the Python API to run layers on it."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO, Callable, Sequence, TypeVar

import numpy as np

from . import layers as L
from . import protocol
from .errors import HarnessError


T = TypeVar("T")


class SmallError(Exception):
    """The C library refused a layer: carries its status name and its one-line reason."""

    def __init__(self, status_name: str, message: str):
        super().__init__(f"{status_name}: {message}")
        self.status_name = status_name
        self.message = message


class RunnerCrashed(HarnessError):
    """The runner process died or broke the protocol."""


@dataclass(frozen=True)
class KernelInfo:
    name: str
    pixel_tile: int
    channel_tile: int  # 0: all channels in one call


@dataclass(frozen=True)
class RunnerInfo:
    isas: tuple[str, ...]  # the kernel tables of the build, best first
    supported: tuple[str, ...]  # those this CPU runs
    selected: tuple[str, ...]  # the chain in force
    select_error: str  # why SMALL_KERNELS was refused, or ""
    kernels: dict[str, KernelInfo]  # by kind: conv, dwconv, maxpool, avgpool, add, copy, softmax


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


class Runner:
    """Serves many layers per process. Restarts the process on the next call after a crash."""

    def __init__(self, command: Sequence[str]):
        self.command = list(command)
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr = tempfile.TemporaryFile()
        self.cases_run = 0

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._stderr.seek(0)
            self._stderr.truncate()
            try:
                self._process = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                                 stderr=self._stderr)
            except OSError as error:
                raise RunnerCrashed(f"cannot start the runner ({' '.join(self.command)}): {error}") from None
        return self._process

    def _crashed(self, why: str) -> RunnerCrashed:
        process = self._process
        self._process = None
        code = None
        if process is not None:
            process.kill()
            code = process.wait()
        self._stderr.seek(0)
        tail = self._stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        detail = f"; stderr: {' | '.join(tail)}" if tail else ""
        return RunnerCrashed(f"runner {' '.join(self.command)} failed (exit {code}): {why}{detail}")

    def _exchange(self, request: bytes, read_payload: Callable[[IO[bytes]], T]) -> tuple[protocol.ReplyHeader, T]:
        process = self._ensure_started()
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(request)
            process.stdin.flush()
            header = protocol.read_header(process.stdout)
            return header, read_payload(process.stdout)
        except (BrokenPipeError, protocol.ProtocolError) as error:
            raise self._crashed(str(error)) from None

    def info(self) -> RunnerInfo:
        _, text = self._exchange(protocol.encode_info(), protocol.read_info_text)
        lists: dict[str, tuple[str, ...]] = {}
        kernels, select_error = {}, ""
        for line in text.splitlines():
            key, _, rest = line.partition(" ")
            if key in ("isas", "supported", "selected"):
                lists[key] = tuple(rest.split())
            elif key == "select-error":
                select_error = rest
            elif key == "kernel":
                words = rest.split()
                kernels[words[0]] = KernelInfo(words[1], int(words[2]), int(words[3]))
        return RunnerInfo(lists.get("isas", ()), lists.get("supported", ()), lists.get("selected", ()), select_error,
                          kernels)

    def run(self, layer: L.Layer, inputs: Sequence[np.ndarray], weights: np.ndarray | None = None,
            bias: np.ndarray | None = None, repeat: int = 1) -> LayerResult:
        """Runs one layer on HWC float32 inputs; raises SmallError when the library refuses it."""
        arrays = [_hwc(x, f"input {i}") for i, x in enumerate(inputs)]
        fields = protocol.layer_fields(layer, [(a.shape[0], a.shape[1], a.shape[2]) for a in arrays])
        fields.update(has_weights=int(weights is not None), has_bias=int(bias is not None), repeat=repeat)
        request = protocol.encode_layer(fields, float(getattr(layer, "alpha", 0.0)), weights, bias, arrays)
        header, reply = self._exchange(request, protocol.read_layer_reply)
        self.cases_run += 1
        if header.status != 0 or reply.output is None:
            raise SmallError(header.status_name, header.message)
        return LayerResult(reply.output, reply.kernel, reply.elapsed_ns)

    def load_model(self, model_file: bytes) -> protocol.ModelReply:
        """Loads a model file (model_format.encode) into the runner, replacing the previous one;
        raises SmallError with the C loader's reason when it refuses the file."""
        header, reply = self._exchange(protocol.encode_model_load(model_file), protocol.read_model_load_reply)
        if header.status != 0:
            raise SmallError(header.status_name, header.message)
        return reply

    def run_model(self, x: np.ndarray, repeat: int = 1) -> LayerResult:
        """One inference (or `repeat`, timed together) of the loaded model on an HWC input."""
        data = np.ascontiguousarray(x, dtype=np.float32)
        header, reply = self._exchange(protocol.encode_model_run(data, repeat), protocol.read_layer_reply)
        if header.status != 0 or reply.output is None:
            raise SmallError(header.status_name, header.message)
        return LayerResult(reply.output, "", reply.elapsed_ns)

    def close(self) -> None:
        if self._process is not None and self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(protocol.encode_quit())
                self._process.stdin.close()
                self._process.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        self._process = None
        self._stderr.close()

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

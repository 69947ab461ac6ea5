"""The runner's wire format (lib/runner/runner.c is the other side): encoding of requests and
decoding of replies, with no process handling."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import IO, Sequence

import numpy as np

from small_harness.runner import layers as L

MAGIC = 0x524C4D53  # "SMLR"
CMD_INFO, CMD_LAYER, CMD_QUIT, CMD_MODEL_LOAD, CMD_MODEL_RUN, CMD_THREADS, CMD_MODEL_LOAD_ARENA, CMD_MODEL_PACK = (
    1, 2, 3, 4, 5, 6, 7, 8)
CMD_LAYER_S8 = 9
MAX_INPUTS = 8

# Must match small_op, small_padding and small_activation in lib/include/small.h.
OP_CODES: dict[type, int] = {
    L.Conv2D: 0, L.MaxPool: 1, L.AvgPool: 2, L.GlobalAvgPool: 3, L.FullyConnected: 4,
    L.Add: 5, L.Activate: 6, L.Softmax: 7, L.Concat: 8, L.Reshape: 9,
}
PADDING_VALID, PADDING_SAME, PADDING_EXPLICIT = 0, 1, 2
ACTIVATION_CODES = {"none": 0, "relu": 1, "relu6": 2, "leaky_relu": 3, "relu_n1_to_1": 4}

# Field order of `enum field` in runner.c.
FIELDS = (
    ["op", "n_inputs"]
    + [f"input{i}_{axis}" for i in range(MAX_INPUTS) for axis in "hwc"]
    + ["out_channels", "groups", "kernel_h", "kernel_w", "stride_h", "stride_w", "dilation_h", "dilation_w",
       "padding", "pad_top", "pad_bottom", "pad_left", "pad_right", "activation",
       "reshape_h", "reshape_w", "reshape_c", "has_weights", "has_bias", "repeat"]
)

STATUS_NAMES = {
    0: "SMALL_OK", 1: "SMALL_ERR_NULL", 2: "SMALL_ERR_SHAPE", 3: "SMALL_ERR_PARAM",
    4: "SMALL_ERR_NOMEM", 5: "SMALL_ERR_UNSUPPORTED", 6: "SMALL_ERR_FORMAT", 7: "SMALL_ERR_BUSY",
}


class ProtocolError(Exception):
    """The runner's byte stream ended or made no sense: the process is gone or broken."""


def _padding_fields(padding: L.Padding) -> dict[str, int]:
    if padding == "same":
        return {"padding": PADDING_SAME}
    if padding == "valid":
        return {"padding": PADDING_VALID}
    top, bottom, left, right = padding
    return {"padding": PADDING_EXPLICIT, "pad_top": top, "pad_bottom": bottom, "pad_left": left, "pad_right": right}


def layer_fields(layer: L.Layer, input_shapes: Sequence[tuple[int, int, int]]) -> dict[str, int]:
    """The integer fields describing `layer` applied to inputs of these HWC shapes."""
    if len(input_shapes) > MAX_INPUTS:
        raise ValueError(f"at most {MAX_INPUTS} inputs, got {len(input_shapes)}")
    fields = dict.fromkeys(FIELDS, 0)
    fields.update(op=OP_CODES[type(layer)], n_inputs=len(input_shapes), groups=1, kernel_h=1, kernel_w=1,
                  stride_h=1, stride_w=1, dilation_h=1, dilation_w=1, repeat=1)
    for i, (h, w, c) in enumerate(input_shapes):
        fields.update({f"input{i}_h": h, f"input{i}_w": w, f"input{i}_c": c})
    if isinstance(layer, (L.Conv2D, L.MaxPool, L.AvgPool)):
        fields.update(kernel_h=layer.kernel[0], kernel_w=layer.kernel[1],
                      stride_h=layer.stride[0], stride_w=layer.stride[1], **_padding_fields(layer.padding))
    if isinstance(layer, L.Conv2D):
        fields.update(out_channels=layer.out_channels, groups=layer.groups,
                      dilation_h=layer.dilation[0], dilation_w=layer.dilation[1])
    if isinstance(layer, L.FullyConnected):
        fields["out_channels"] = layer.out_channels
    if isinstance(layer, L.Reshape):
        fields.update(reshape_h=layer.shape[0], reshape_w=layer.shape[1], reshape_c=layer.shape[2])
    activation = getattr(layer, "activation", "none")
    if activation not in ACTIVATION_CODES:
        raise ValueError(f"unknown activation {activation!r}; known: {', '.join(ACTIVATION_CODES)}")
    fields["activation"] = ACTIVATION_CODES[activation]
    return fields


def _array_bytes(array: np.ndarray | None) -> bytes:
    if array is None:
        return struct.pack("<I", 0)
    data = np.ascontiguousarray(array, dtype="<f4")
    return struct.pack("<I", data.size) + data.tobytes()


def encode_info() -> bytes:
    return struct.pack("<II", MAGIC, CMD_INFO)


def encode_model_load(model_file: bytes, arena_bytes: int | None = None) -> bytes:
    """A model load; with arena_bytes, into an arena buffer of that size (small_model_load_with_arena)."""
    if arena_bytes is None:
        return struct.pack("<III", MAGIC, CMD_MODEL_LOAD, len(model_file)) + model_file
    return struct.pack("<IIII", MAGIC, CMD_MODEL_LOAD_ARENA, arena_bytes, len(model_file)) + model_file


def encode_model_pack(model_file: bytes) -> bytes:
    return struct.pack("<III", MAGIC, CMD_MODEL_PACK, len(model_file)) + model_file


def encode_model_run(x: np.ndarray, repeat: int) -> bytes:
    return struct.pack("<III", MAGIC, CMD_MODEL_RUN, repeat) + _array_bytes(x)


def encode_model_run_prefix() -> bytes:
    """The first bytes of every model run request."""
    return struct.pack("<II", MAGIC, CMD_MODEL_RUN)


def encode_threads(threads: int) -> bytes:
    return struct.pack("<III", MAGIC, CMD_THREADS, threads)


def encode_quit() -> bytes:
    return struct.pack("<II", MAGIC, CMD_QUIT)


def encode_layer(fields: dict[str, int], alpha: float, weights: np.ndarray | None, bias: np.ndarray | None,
                 inputs: Sequence[np.ndarray]) -> bytes:
    values = [fields[name] for name in FIELDS]
    parts = [struct.pack(f"<III{len(values)}if", MAGIC, CMD_LAYER, len(values), *values, alpha),
             _array_bytes(weights), _array_bytes(bias)]
    parts += [_array_bytes(x) for x in inputs]
    return b"".join(parts)


@dataclass(frozen=True)
class Quantization:
    """An int8 layer's quantization (small_quant): real = scale * (q - zero_point) for input and output;
    weights symmetric, one scale per output channel or one for all."""
    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    weight_scales: tuple[float, ...]


def _int8_bytes(array: np.ndarray) -> bytes:
    data = np.ascontiguousarray(array, dtype=np.int8)
    return struct.pack("<I", data.size) + data.tobytes()


def encode_layer_s8(fields: dict[str, int], quant: Quantization, weights: np.ndarray, bias: np.ndarray | None,
                    x: np.ndarray) -> bytes:
    """CMD_LAYER_S8: an int8 layer (runner.c: serve_layer_s8)."""
    values = [fields[name] for name in FIELDS]
    bias_bytes = struct.pack("<I", 0) if bias is None else (
        struct.pack("<I", np.asarray(bias).size) + np.ascontiguousarray(bias, dtype="<i4").tobytes())
    return b"".join([
        struct.pack(f"<III{len(values)}if", MAGIC, CMD_LAYER_S8, len(values), *values, 0.0),
        struct.pack("<fifi", quant.input_scale, quant.input_zero_point, quant.output_scale, quant.output_zero_point),
        _array_bytes(np.asarray(quant.weight_scales, np.float32)), _int8_bytes(weights), bias_bytes, _int8_bytes(x)])


def read_layer_reply_s8(stream: IO[bytes]) -> "LayerReply":
    kernel = _read_string(stream)
    h, w, c, n = struct.unpack("<iiiI", _read(stream, 16))
    output = np.frombuffer(_read(stream, n), dtype=np.int8).reshape(h, w, c).copy() if n else None
    (elapsed_ns,) = struct.unpack("<Q", _read(stream, 8))
    return LayerReply(kernel, output, elapsed_ns)


def _read(stream: IO[bytes], n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) != n:
        raise ProtocolError(f"runner output ended after {0 if not data else len(data)} of {n} bytes")
    return data


def _read_u32(stream: IO[bytes]) -> int:
    (value,) = struct.unpack("<I", _read(stream, 4))
    return int(value)


def _read_string(stream: IO[bytes]) -> str:
    return _read(stream, _read_u32(stream)).decode("utf-8", "replace")


def read_bytes_reply(stream: IO[bytes]) -> bytes:
    """A reply's payload of raw bytes (u32 length, bytes): CMD_MODEL_PACK's file."""
    return _read(stream, _read_u32(stream))


@dataclass(frozen=True)
class ReplyHeader:
    status: int
    message: str

    @property
    def status_name(self) -> str:
        return STATUS_NAMES.get(self.status, f"status {self.status}")


def read_header(stream: IO[bytes]) -> ReplyHeader:
    magic, status = struct.unpack("<Ii", _read(stream, 8))
    if magic != MAGIC:
        raise ProtocolError(f"bad reply magic {magic:#x}: the runner printed something else on stdout")
    return ReplyHeader(status, _read_string(stream))


def read_info_text(stream: IO[bytes]) -> str:
    return _read_string(stream)


@dataclass(frozen=True)
class LayerReply:
    kernel: str
    output: np.ndarray | None
    elapsed_ns: int


def read_layer_reply(stream: IO[bytes]) -> LayerReply:
    kernel = _read_string(stream)
    h, w, c, n = struct.unpack("<iiiI", _read(stream, 16))
    output = np.frombuffer(_read(stream, 4 * n), dtype="<f4").reshape(h, w, c).astype(np.float32) if n else None
    (elapsed_ns,) = struct.unpack("<Q", _read(stream, 8))
    return LayerReply(kernel, output, elapsed_ns)


@dataclass(frozen=True)
class ModelReply:
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int]
    arena_bytes: int
    kernels: list[str]  # the kernel of each layer, in order


def read_model_load_reply(stream: IO[bytes]) -> ModelReply:
    shapes = struct.unpack("<6i", _read(stream, 24))
    (arena_bytes,) = struct.unpack("<Q", _read(stream, 8))
    kernels = _read_string(stream).splitlines()
    return ModelReply(shapes[:3], shapes[3:], int(arena_bytes), kernels)  # type: ignore[arg-type]


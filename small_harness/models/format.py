"""The library's own model: a graph of layers with their weights (built by tflite_import.py), its
binary file format (read by lib/src/model.c, whose header comment documents the same layout), and
its memory figures."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from small_harness.runner import layers as L
from small_harness.runner.protocol import MAX_INPUTS, layer_fields

MAGIC = b"SMLM"
VERSION = 1
LAYER_WORDS = 28  # enum of layer words in lib/src/model_file.h
WEIGHTS_ALIGN = 16
# The pre-packed format, which the library writes (small_model_write_packed; lib/src/model_file.h):
# the version, the words of a layer's kernel signature, and the header's size in words.
VERSION_PACKED = 3
SIGNATURE_WORDS = 15
HEADER_WORDS = 8
Shape = tuple[int, int, int]


@dataclass
class Node:
    """One layer of the graph: reads `inputs`, writes `output` (tensor indices)."""

    layer: L.Layer
    inputs: list[int]
    output: int
    weights: np.ndarray | None = None  # OHWI for Conv2D, (out, K) for FullyConnected
    bias: np.ndarray | None = None
    origin: str = ""  # where it came from, e.g. "CONV_2D #3"


@dataclass
class Model:
    name: str
    shapes: list[Shape]  # HWC per tensor
    nodes: list[Node]
    input: int
    output: int
    output_layout: tuple[int, ...] = ()  # the source model's output shape, e.g. (1, 10)
    input_layout: tuple[int, ...] = ()
    tensor_names: list[str] = field(default_factory=list)
    dequantized_constants: int = 0  # weight tensors stored as int8 in the source, folded to float


# The layer words of a model file after the tensor references, in lib/src/model.c's order; their
# values are the runner protocol's fields of the same names (protocol.layer_fields).
LAYER_FIELD_WORDS = ("out_channels", "groups", "kernel_h", "kernel_w", "stride_h", "stride_w", "dilation_h",
                     "dilation_w", "padding", "pad_top", "pad_bottom", "pad_left", "pad_right", "activation")


def _layer_words(node: Node, input_shapes: list[Shape], weights_at: int, bias_at: int) -> list[int]:
    fields = layer_fields(node.layer, input_shapes)
    inputs = node.inputs + [0] * (MAX_INPUTS - len(node.inputs))
    alpha_bits = struct.unpack("<i", struct.pack("<f", getattr(node.layer, "alpha", 0.0)))[0]
    words = [fields["op"], fields["n_inputs"], *inputs, node.output, *(fields[name] for name in LAYER_FIELD_WORDS),
             alpha_bits, weights_at, bias_at]
    assert len(words) == LAYER_WORDS
    return words


def encode(model: Model) -> bytes:
    """The model file: header, tensor shapes, layers, then the weights blob (16-byte aligned)."""
    blob: list[np.ndarray] = []
    blob_floats = 0

    def place(array: np.ndarray | None) -> int:
        nonlocal blob_floats
        if array is None:
            return -1
        flat = np.ascontiguousarray(array, dtype="<f4").ravel()
        blob.append(flat)
        blob_floats += flat.size
        return blob_floats - flat.size

    layer_words: list[int] = []
    for node in model.nodes:
        weights_at = place(node.weights)
        layer_words += _layer_words(node, [model.shapes[t] for t in node.inputs], weights_at, place(node.bias))
    tables = [VERSION, len(model.shapes), len(model.nodes), model.input, model.output]
    tables_bytes = 4 * (8 + 3 * len(model.shapes) + len(layer_words))
    weights_offset = -(-tables_bytes // WEIGHTS_ALIGN) * WEIGHTS_ALIGN
    header = MAGIC + struct.pack("<7i", *tables, weights_offset, blob_floats)
    body = struct.pack(f"<{3 * len(model.shapes)}i", *(d for shape in model.shapes for d in shape))
    body += struct.pack(f"<{len(layer_words)}i", *layer_words)
    padding = b"\0" * (weights_offset - tables_bytes)
    weights = b"".join(a.tobytes() for a in blob)
    return header + body + padding + weights


@dataclass(frozen=True)
class MemoryFigures:
    naive_bytes: int  # every activation in its own buffer
    lower_bound_bytes: int  # the most bytes alive at once (the tensors a layer reads and writes)


def memory_figures(model: Model) -> MemoryFigures:
    """What an arena must hold at least, and what it would cost without reuse. The model input has a
    place in the arena too (lib/src/model.c: small_model_input_buffer), alive from the start."""
    sizes = {t: 4 * int(np.prod(shape)) for t, shape in enumerate(model.shapes)}
    last_use = {t: i for i, node in enumerate(model.nodes) for t in node.inputs}
    last_use[model.output] = len(model.nodes)
    first = {node.output: i for i, node in enumerate(model.nodes)}
    first[model.input] = 0
    naive = sum(size for t, size in sizes.items() if t in first)
    # A reshape of an arena tensor is the same memory (lib/src/model.c): one buffer, alive while either is.
    aliases: dict[int, int] = {}
    for node in model.nodes:
        if isinstance(node.layer, L.Reshape) and node.inputs[0] != model.input:
            root = aliases.get(node.inputs[0], node.inputs[0])
            aliases[node.output] = root
            last_use[root] = max(last_use.get(root, first[root]), last_use.get(node.output, first[node.output]))
    peak = 0
    for i in range(len(model.nodes)):
        live = sum(size for t, size in sizes.items()
                   if t in first and t not in aliases and first[t] <= i <= last_use.get(t, first[t]))
        peak = max(peak, live)
    return MemoryFigures(naive, peak)


def packed_checksum_offset(data: bytes) -> int:
    """Where a pre-packed file keeps its CRC-32: after the header, the tensors, the layers and the
    layers' kernel signatures."""
    n_tensors, n_layers = struct.unpack_from("<2i", data, 8)
    return 4 * (HEADER_WORDS + 3 * n_tensors + (LAYER_WORDS + SIGNATURE_WORDS) * n_layers)


def reseal_packed(data: bytes) -> bytes:
    """A pre-packed file with its checksum made right again, as a file edited on purpose would be: so
    that tests reach the checks behind the checksum (a tampered shape, a kernel name). The CRC-32 is
    zlib's, over the file up to the end of its weights, with the checksum word taken as zero."""
    at = packed_checksum_offset(data)
    weights_offset, weights_count = struct.unpack_from("<2i", data, 24)
    zeroed = data[:at] + bytes(4) + data[at + 4:weights_offset + 4 * weights_count]
    return data[:at] + struct.pack("<I", zlib.crc32(zeroed)) + data[at + 4:]

"""Import a float .tflite model into the library's model (model_format.Model), with the `tflite`
package's parser of the TFLite flatbuffers schema. Fused activations stay fused; ops the library
lacks are refused by name, index and file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tflite

from small_harness.runner import layers as L
from small_harness.core.errors import HarnessError
from small_harness.models.format import Model, Node, Shape


class ModelImportError(HarnessError):
    """The file is not a float .tflite model this library can run."""


# The version of what import_tflite makes of a file: the model cache (run_model.import_cached) keys its
# files by it, so bump it whenever the import's output changes (a layer imported differently, weights
# folded another way), or a model imported by the older importer is reused as it was.
IMPORTER_VERSION = 1

OP_NAMES = {code: name for name, code in vars(tflite.BuiltinOperator).items() if not name.startswith("_")}
TYPE_NAMES = {code: name.lower() for name, code in vars(tflite.TensorType).items() if not name.startswith("_")}
TENSOR_FLOAT32 = tflite.TensorType.FLOAT32
QUANTIZED_TYPES = {tflite.TensorType.INT8: np.int8, tflite.TensorType.UINT8: np.uint8}
# The element types of activations the library computes in. Full-integer models (int8 activations) are a
# later issue: that is where this set grows, and the one check that reads it (_Reader.check_activation).
ACTIVATION_TYPES = {TENSOR_FLOAT32}
QUANTIZED_ACTIVATION_TYPES = {tflite.TensorType.INT8, tflite.TensorType.UINT8, tflite.TensorType.INT16}
ACTIVATIONS = {tflite.ActivationFunctionType.NONE: "none", tflite.ActivationFunctionType.RELU: "relu",
               tflite.ActivationFunctionType.RELU6: "relu6"}
PADDINGS = {tflite.Padding.SAME: "same", tflite.Padding.VALID: "valid"}


def hwc(dims: tuple[int, ...], what: str) -> Shape:
    """A TFLite tensor shape (batch first) as the library's HWC shape, keeping the data order."""
    _check_dims(dims, what)
    if len(dims) == 0 or dims[0] != 1 and len(dims) > 1:
        raise ModelImportError(f"{what}: shape {dims}: only batch 1 is supported")
    rest = tuple(int(d) for d in (dims[1:] if len(dims) > 1 else dims))
    if len(rest) > 3:
        raise ModelImportError(f"{what}: shape {dims} has more than 3 dimensions after the batch")
    return (1,) * (3 - len(rest)) + rest  # type: ignore[return-value]


def _check_dims(dims: tuple[int, ...], what: str) -> None:
    """Every dimension is a size: a -1 or a 0 in a file would otherwise be inferred by numpy's reshape or
    make an empty tensor, which the library cannot allocate or run."""
    if any(d < 1 for d in dims):
        raise ModelImportError(f"{what} has shape {dims}: every dimension must be at least 1")


class _Reader:
    """The parts of one subgraph the importer needs, with file-and-op context for errors. Every index read
    from the file is checked against its table: the flatbuffers parser does not, and reads whatever bytes
    lie past a vector."""

    def __init__(self, path: Path, data: bytes):
        self.path = path
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ModelImportError(f"{path}: not a .tflite file (no TFL3 identifier)")
        self.model = tflite.Model.GetRootAs(data, 0)
        if self.model.SubgraphsLength() != 1:
            raise ModelImportError(f"{path}: {self.model.SubgraphsLength()} subgraphs; one is supported")
        self.graph = self.model.Subgraphs(0)
        self.dequantized = 0

    def tensor(self, index: int) -> Any:
        count = self.graph.TensorsLength()
        if not 0 <= index < count:
            raise ModelImportError(f"{self.path}: tensor index {index} is outside the tensor table ({count} tensors)")
        return self.graph.Tensors(index)

    def describe(self, index: int) -> str:
        """"tensor 3 'name'", as errors name a tensor; a character that is not printable (a newline in a
        crafted name) shown as '?', so that the error stays one line."""
        name = (self.tensor(index).Name() or b"").decode(errors="replace")
        return f"tensor {index} '{''.join(c if c.isprintable() else '?' for c in name)}'"

    def dims(self, index: int) -> tuple[int, ...]:
        return tuple(int(d) for d in self.tensor(index).ShapeAsNumpy())

    def buffer(self, index: int) -> Any:
        """The buffer of a tensor; None where the tensor has no data (an activation)."""
        number, count = self.tensor(index).Buffer(), self.model.BuffersLength()
        if number >= count:
            raise ModelImportError(f"{self.path}: {self.describe(index)} names buffer {number}, past the buffer "
                                   f"table ({count} buffers)")
        buffer = self.model.Buffers(number)
        return None if buffer is None or buffer.DataLength() == 0 else buffer

    def check_activation(self, index: int, where: str) -> None:
        """An activation (a tensor without data) is of a type the library computes in: int8 activations
        used to be run as float32, giving wrong numbers without a word."""
        element_type = self.tensor(index).Type()
        if element_type in ACTIVATION_TYPES:
            return
        why = "full-integer (quantized) models are not supported yet: use the model's float32 version (int8 " \
              "weights with float32 activations import)" if element_type in QUANTIZED_ACTIVATION_TYPES \
            else "the library computes in float32"
        raise ModelImportError(f"{where}: {self.describe(index)} is {TYPE_NAMES.get(element_type, element_type)} "
                               f"activations: {why}")

    def constant(self, index: int) -> np.ndarray | None:
        """The data of a constant tensor, as float32 in its TFLite shape; None for activations.
        Weight-only quantized constants (int8 with scales, as in kws_ref_model_float32) are folded
        back to float: (q - zero_point) * scale, per channel along the quantized dimension."""
        tensor = self.tensor(index)
        buffer = self.buffer(index)
        if buffer is None:
            return None
        dims = self.dims(index)
        what = f"{self.path}: {self.describe(index)}"
        _check_dims(dims, what)
        element_type = tensor.Type()
        quantization = tensor.Quantization()
        if element_type != TENSOR_FLOAT32 and (element_type not in QUANTIZED_TYPES or quantization is None
                                               or quantization.ScaleLength() == 0):
            raise ModelImportError(f"{what} is a constant of {TYPE_NAMES.get(element_type, element_type)}; the "
                                   "library takes float32 constants, or int8 ones with scales (weight-only quantized)")
        dtype = np.dtype("<f4") if element_type == TENSOR_FLOAT32 else np.dtype(QUANTIZED_TYPES[element_type])
        raw = buffer.DataAsNumpy()
        if raw.size != math.prod(dims) * dtype.itemsize:
            raise ModelImportError(f"{what}: its buffer holds {raw.size} bytes, where shape {dims} of "
                                   f"{TYPE_NAMES[element_type]} takes {math.prod(dims) * dtype.itemsize}")
        if element_type == TENSOR_FLOAT32:
            return raw.view(dtype).astype(np.float32).reshape(dims)
        self.dequantized += 1
        values = raw.view(dtype).astype(np.float64).reshape(dims)
        axis_shape = [1] * len(dims)
        scale, zero_point = quantization.ScaleAsNumpy(), quantization.ZeroPointAsNumpy()
        if scale.size > 1:
            axis = quantization.QuantizedDimension()
            zero_points = quantization.ZeroPointLength()
            if not 0 <= axis < len(dims) or dims[axis] != scale.size or zero_points not in (0, 1, scale.size):
                raise ModelImportError(f"{what}: {scale.size} scales and {zero_points} zero points along dimension "
                                       f"{axis} of shape {dims}: they must be one per entry of that dimension")
            axis_shape[axis] = scale.size
        zero = np.asarray(zero_point if quantization.ZeroPointLength() else 0, dtype=np.float64)
        return ((values - zero.reshape(axis_shape if zero.size > 1 else [])) *
                scale.astype(np.float64).reshape(axis_shape)).astype(np.float32)

    def op_name(self, op: Any, index: int) -> str:
        number, count = op.OpcodeIndex(), self.model.OperatorCodesLength()
        if number >= count:
            raise ModelImportError(f"{self.path}: operator {index}: opcode index {number} is past the opcode table "
                                   f"({count} {'entry' if count == 1 else 'entries'})")
        code = self.model.OperatorCodes(number)
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        return OP_NAMES.get(builtin, f"builtin {builtin}")


def _options(op: Any, kind: type) -> Any:
    table = op.BuiltinOptions()
    options = kind()
    options.Init(table.Bytes, table.Pos)
    return options


def _activation(options: Any, where: str) -> str:
    code = options.FusedActivationFunction()
    if code not in ACTIVATIONS:
        raise ModelImportError(f"{where}: fused activation {code} is not supported (none, relu, relu6 are)")
    return ACTIVATIONS[code]


def _bias(r: _Reader, inputs: list[int], out_channels: int, where: str) -> np.ndarray | None:
    """The bias of a convolution or fully connected layer (its third input, optional): one constant per
    output channel. A bias that is not a constant used to be taken for none, and one of another length
    made the library read the next layer's weights as this one's bias."""
    if len(inputs) < 3 or inputs[2] < 0:
        return None
    bias = r.constant(inputs[2])
    if bias is None:
        raise ModelImportError(f"{where}: bias {r.describe(inputs[2])} is not a constant; the library takes a "
                               "constant bias")
    if bias.size != out_channels:
        raise ModelImportError(f"{where}: bias {r.describe(inputs[2])} has {bias.size} values for {out_channels} "
                               "output channels; it needs one per output channel")
    return bias


def _conv(r: _Reader, op: Any, inputs: list[int], where: str) -> tuple[L.Layer, np.ndarray, np.ndarray | None]:
    o = _options(op, tflite.Conv2DOptions)
    weights = r.constant(inputs[1])  # OHWI already
    if weights is None or weights.ndim != 4:
        raise ModelImportError(f"{where}: filter {r.describe(inputs[1])} is not a constant tensor of 4 dimensions")
    in_channels = r.dims(inputs[0])[-1]
    if in_channels % weights.shape[3]:
        raise ModelImportError(f"{where}: filter {r.describe(inputs[1])} of depth {weights.shape[3]} does not divide "
                               f"the {in_channels} input channels of {r.describe(inputs[0])}: no grouping fits")
    layer = L.Conv2D(out_channels=weights.shape[0], kernel=(weights.shape[1], weights.shape[2]),
                     stride=(o.StrideH(), o.StrideW()), dilation=(o.DilationHFactor(), o.DilationWFactor()),
                     padding=PADDINGS[o.Padding()], groups=in_channels // weights.shape[3],  # type: ignore[arg-type]
                     activation=_activation(o, where))  # type: ignore[arg-type]
    return layer, weights, _bias(r, inputs, layer.out_channels, where)


def _depthwise(r: _Reader, op: Any, inputs: list[int], where: str) -> tuple[L.Layer, np.ndarray, np.ndarray | None]:
    o = _options(op, tflite.DepthwiseConv2DOptions)
    filters = r.constant(inputs[1])  # (1, kh, kw, channels * multiplier)
    if filters is None or filters.ndim != 4 or filters.shape[0] != 1:
        raise ModelImportError(f"{where}: filter {r.describe(inputs[1])} is not a constant tensor of shape "
                               "(1, height, width, channels)")
    in_channels = r.dims(inputs[0])[-1]
    if filters.shape[3] % in_channels:
        raise ModelImportError(f"{where}: filter {r.describe(inputs[1])} has {filters.shape[3]} channels, not a "
                               f"multiple of the {in_channels} input channels of {r.describe(inputs[0])}")
    weights = filters[0].transpose(2, 0, 1)[..., None]  # OHWI with one input channel per group
    layer = L.Conv2D(out_channels=weights.shape[0], kernel=(weights.shape[1], weights.shape[2]),
                     stride=(o.StrideH(), o.StrideW()), dilation=(o.DilationHFactor(), o.DilationWFactor()),
                     padding=PADDINGS[o.Padding()], groups=in_channels,  # type: ignore[arg-type]
                     activation=_activation(o, where))  # type: ignore[arg-type]
    return layer, weights, _bias(r, inputs, layer.out_channels, where)


def _pool(kind: type) -> Callable[[_Reader, Any, list[int], str], tuple[L.Layer, None, None]]:
    def read(r: _Reader, op: Any, inputs: list[int], where: str) -> tuple[L.Layer, None, None]:
        o = _options(op, tflite.Pool2DOptions)
        return kind(kernel=(o.FilterHeight(), o.FilterWidth()), stride=(o.StrideH(), o.StrideW()),
                    padding=PADDINGS[o.Padding()], activation=_activation(o, where)), None, None
    return read


def _fully_connected(r: _Reader, op: Any, inputs: list[int], where: str) -> tuple[L.Layer, np.ndarray, np.ndarray | None]:
    o = _options(op, tflite.FullyConnectedOptions)
    weights = r.constant(inputs[1])
    if weights is None or weights.ndim != 2 or o.WeightsFormat() != tflite.FullyConnectedOptionsWeightsFormat.DEFAULT:
        raise ModelImportError(f"{where}: weights must be a constant float matrix in the default format")
    input_size = math.prod(r.dims(inputs[0]))
    if weights.shape[1] != input_size:
        raise ModelImportError(f"{where}: weights {r.describe(inputs[1])} of shape {weights.shape} take "
                               f"{weights.shape[1]} inputs; {r.describe(inputs[0])} has {input_size} values")
    layer = L.FullyConnected(out_channels=weights.shape[0], activation=_activation(o, where))  # type: ignore[arg-type]
    return layer, weights, _bias(r, inputs, layer.out_channels, where)


ELEMENTWISE_OPTIONS = {"ADD": tflite.AddOptions, "SUB": tflite.SubOptions, "MUL": tflite.MulOptions}


def _elementwise(name: str) -> Callable[[_Reader, Any, list[int], str], tuple[L.Layer, np.ndarray | None, np.ndarray | None]]:
    """ADD, SUB and MUL. Of two activations: ADD, of one shape. With one constant operand, a scalar or
    one value per channel (broadcast over height and width, as numpy and TFLite do): a depthwise 1x1
    convolution, x * w + b with w = 1 and b = c for x + c, w = 1 and b = -c for x - c, w = -1 and b = c
    for c - x, w = c and b = 0 for x * c. Each is one float32 rounding, the same as the op itself."""

    def importer(r: _Reader, op: Any, inputs: list[int], where: str) -> tuple[L.Layer, np.ndarray | None, np.ndarray | None]:
        activation = _activation(_options(op, ELEMENTWISE_OPTIONS[name]), where)
        first, second = r.constant(inputs[0]), r.constant(inputs[1])
        if first is None and second is None:
            if name != "ADD":
                raise ModelImportError(f"{where}: {name} of two activations (tensors {inputs[0]} and {inputs[1]}) is "
                                       f"not supported; {name} with a constant operand is")
            if r.dims(inputs[0]) != r.dims(inputs[1]):
                raise ModelImportError(f"{where}: ADD broadcasts tensor {inputs[0]} {r.dims(inputs[0])} against tensor "
                                       f"{inputs[1]} {r.dims(inputs[1])}; the library adds activations of one shape")
            return L.Add(activation=activation), None, None  # type: ignore[arg-type]
        if first is not None and second is not None:
            raise ModelImportError(f"{where}: both operands (tensors {inputs[0]} and {inputs[1]}) are constants; "
                                   "fold them before export")
        constant_first = first is not None
        constant_index, data_index = (inputs[0], inputs[1]) if constant_first else (inputs[1], inputs[0])
        constant = first if first is not None else second
        assert constant is not None
        channels = hwc(r.dims(data_index), f"{where}: {r.describe(data_index)}")[2]
        if constant.size == 1:
            per_channel = np.full(channels, constant.item(), np.float32)
        elif constant.size == channels and constant.shape[-1] == channels:
            per_channel = constant.reshape(channels)
        else:
            raise ModelImportError(
                f"{where}: constant tensor {constant_index} '{r.tensor(constant_index).Name().decode()}' of shape "
                f"{tuple(constant.shape)} varies over height or width; the library takes a scalar or one value per "
                f"channel ({channels}) as the constant operand")
        ones, zeros = np.ones(channels, np.float32), np.zeros(channels, np.float32)
        if name == "ADD":
            scale, offset = ones, per_channel
        elif name == "SUB":
            scale, offset = (-ones, per_channel) if constant_first else (ones, -per_channel)
        else:
            scale, offset = per_channel, zeros
        layer = L.Conv2D(out_channels=channels, kernel=(1, 1), groups=channels, activation=activation)  # type: ignore[arg-type]
        return layer, scale.reshape(channels, 1, 1, 1), offset

    return importer


def _softmax(r: _Reader, op: Any, inputs: list[int], where: str) -> tuple[L.Layer, None, None]:
    beta = _options(op, tflite.SoftmaxOptions).Beta()
    if beta != 1.0:
        raise ModelImportError(f"{where}: softmax with beta {beta} is not supported (beta 1 is)")
    return L.Softmax(), None, None


IMPORTERS: dict[str, Callable[[_Reader, Any, list[int], str], tuple[L.Layer, np.ndarray | None, np.ndarray | None]]] = {
    "CONV_2D": _conv,
    "DEPTHWISE_CONV_2D": _depthwise,
    "AVERAGE_POOL_2D": _pool(L.AvgPool),
    "MAX_POOL_2D": _pool(L.MaxPool),
    "FULLY_CONNECTED": _fully_connected,
    "ADD": _elementwise("ADD"),
    "SUB": _elementwise("SUB"),
    "MUL": _elementwise("MUL"),
    "SOFTMAX": _softmax,
    "RESHAPE": lambda r, op, inputs, where: (L.Reshape((0, 0, 0)), None, None),  # shape: the output tensor's
}
# Inputs that are data (activations); the rest are weights, bias or shape tensors.
DATA_INPUTS = {"ADD": 2, "SUB": 2, "MUL": 2}  # those of them that are constants are operands, not data


def import_tflite(path: Path) -> Model:
    """Reads a float .tflite file into the library's model; raises ModelImportError saying why not."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelImportError(f"{path}: cannot read ({error.strerror})") from None
    try:
        return _import(path, data)
    except ModelImportError:
        raise
    except Exception as error:  # a damaged flatbuffer fails deep inside the generated parser
        raise ModelImportError(f"{path}: not a valid .tflite model ({type(error).__name__}: {error})") from None


def _inputs(op: Any) -> list[int]:
    """An operator's input tensor indices (-1 for an optional one left out); [] where it has none, where
    the parser's InputsAsNumpy gives 0."""
    return [int(op.Inputs(i)) for i in range(op.InputsLength())]


def _check_activations(r: _Reader) -> None:
    """Every activation the graph reads or writes, checked before any layer is imported, so that a
    full-integer model is refused for its int8 activations, not for an int32 bias met on the way."""
    path = r.path
    for index in range(r.graph.OperatorsLength()):
        op = r.graph.Operators(index)
        where = f"{path.name}: operator {index} ({r.op_name(op, index)})"
        for tensor in _inputs(op) + [op.Outputs(i) for i in range(op.OutputsLength())]:
            if tensor >= 0 and r.buffer(tensor) is None:  # -1: an optional input left out
                r.check_activation(tensor, where)
    for tensor in [r.graph.Inputs(i) for i in range(r.graph.InputsLength())] + \
                  [r.graph.Outputs(i) for i in range(r.graph.OutputsLength())]:
        r.check_activation(tensor, f"{path.name}: graph input or output")


def _import(path: Path, data: bytes) -> Model:
    r = _Reader(path, data)
    graph = r.graph
    if graph.InputsLength() != 1 or graph.OutputsLength() != 1:
        raise ModelImportError(f"{path}: {graph.InputsLength()} inputs and {graph.OutputsLength()} outputs; "
                               "one of each is supported")
    _check_activations(r)
    ids: dict[int, int] = {}  # TFLite tensor index -> our tensor index
    shapes: list[Shape] = []
    names: list[str] = []

    def tensor_id(index: int) -> int:
        if index not in ids:
            ids[index] = len(shapes)
            shapes.append(hwc(r.dims(index), f"{path}: {r.describe(index)}"))
            names.append(r.tensor(index).Name().decode(errors="replace"))
        return ids[index]

    model_input = tensor_id(graph.Inputs(0))
    nodes: list[Node] = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        name = r.op_name(op, index)
        where = f"{path.name}: operator {index} ({name})"
        if name not in IMPORTERS:
            raise ModelImportError(f"{where} is not supported by the library; supported: {', '.join(IMPORTERS)}")
        if op.OutputsLength() != 1:
            raise ModelImportError(f"{where}: {op.OutputsLength()} outputs; the library's layers have one")
        inputs = _inputs(op)
        layer, weights, bias = IMPORTERS[name](r, op, inputs, where)
        output = tensor_id(int(op.Outputs(0)))
        if isinstance(layer, L.Reshape):
            layer = L.Reshape(shapes[output])
        candidates = inputs[: DATA_INPUTS.get(name, 1)]
        if name in ELEMENTWISE_OPTIONS:
            candidates = [i for i in candidates if r.constant(i) is None]  # the constant became weights
        for i in candidates:
            if i < 0 or r.constant(i) is not None:
                raise ModelImportError(f"{where}: input tensor {i} is {'absent' if i < 0 else 'a constant'}, where the "
                                       "library takes an activation")
        data_inputs = [tensor_id(i) for i in candidates]
        nodes.append(Node(layer, data_inputs, output, weights, bias, origin=f"{name} #{index}"))
    return Model(name=path.stem, shapes=shapes, nodes=nodes, input=model_input, output=ids[graph.Outputs(0)],
                 output_layout=r.dims(graph.Outputs(0)), input_layout=r.dims(graph.Inputs(0)), tensor_names=names,
                 dequantized_constants=r.dequantized)

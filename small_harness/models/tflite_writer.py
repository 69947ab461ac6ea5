"""A minimal .tflite writer for tests: float32 tensors (or another element type, for files the importer
must refuse; or int8 with quantization parameters, for the int8 reference), builtin operators, constant
buffers. It makes the small models that real files do not
cover (element-wise ops with constant operands, broadcasting, NaN inputs, malformed files), which the
importer, the library and LiteRT then read like any other file. It checks nothing: a tensor's shape and
its data are written as given, so a test can declare a shape its data does not fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOptions import BuiltinOptions

Options = Callable[[flatbuffers.Builder], tuple[int, int]]  # -> (BuiltinOptions type, table offset)
# How a constant of each element type is stored in its buffer (little-endian, as TFLite's).
STORED_AS = {tflite.TensorType.FLOAT32: "<f4", tflite.TensorType.INT8: "i1", tflite.TensorType.UINT8: "u1",
             tflite.TensorType.INT16: "<i2", tflite.TensorType.INT32: "<i4"}


@dataclass(frozen=True)
class Quantization:
    """A tensor's affine quantization, real = scale * (q - zero_point): one scale and zero point per
    tensor, or one per slice along quantized_dimension (per-channel weights)."""
    scale: tuple[float, ...]
    zero_point: tuple[int, ...]
    quantized_dimension: int = 0


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None  # a constant; None for an activation
    element_type: int = tflite.TensorType.FLOAT32  # tflite.TensorType, one of STORED_AS
    quantization: Quantization | None = None


@dataclass
class Operator:
    code: int  # tflite.BuiltinOperator
    inputs: list[int]
    outputs: list[int]
    options: Options | None = None
    opcode_index: int | None = None  # its entry in the opcode table; None: the one of `code` (else a damaged file)


@dataclass
class Graph:
    tensors: list[Tensor] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def tensor(self, name: str, shape: tuple[int, ...], data: np.ndarray | None = None,
               element_type: int = tflite.TensorType.FLOAT32, quantization: Quantization | None = None) -> int:
        stored = None if data is None else np.asarray(data, STORED_AS[element_type])
        self.tensors.append(Tensor(name, shape, stored, element_type, quantization))
        return len(self.tensors) - 1


def add_options(activation: int = tflite.ActivationFunctionType.NONE) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.AddOptionsStart(b)
        tflite.AddOptionsAddFusedActivationFunction(b, activation)
        return BuiltinOptions.AddOptions, tflite.AddOptionsEnd(b)
    return build


def mul_options(activation: int = tflite.ActivationFunctionType.NONE) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.MulOptionsStart(b)
        tflite.MulOptionsAddFusedActivationFunction(b, activation)
        return BuiltinOptions.MulOptions, tflite.MulOptionsEnd(b)
    return build


def sub_options(activation: int = tflite.ActivationFunctionType.NONE) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.SubOptionsStart(b)
        tflite.SubOptionsAddFusedActivationFunction(b, activation)
        return BuiltinOptions.SubOptions, tflite.SubOptionsEnd(b)
    return build


def fully_connected_options(activation: int = tflite.ActivationFunctionType.NONE) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, activation)
        return BuiltinOptions.FullyConnectedOptions, tflite.FullyConnectedOptionsEnd(b)
    return build


def conv_options(padding: int = tflite.Padding.VALID, activation: int = tflite.ActivationFunctionType.NONE,
                 stride: tuple[int, int] = (1, 1), dilation: tuple[int, int] = (1, 1)) -> Options:
    """CONV_2D; stride and dilation as (along H, along W)."""
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, padding)
        tflite.Conv2DOptionsAddStrideH(b, stride[0])
        tflite.Conv2DOptionsAddStrideW(b, stride[1])
        tflite.Conv2DOptionsAddFusedActivationFunction(b, activation)
        tflite.Conv2DOptionsAddDilationHFactor(b, dilation[0])
        tflite.Conv2DOptionsAddDilationWFactor(b, dilation[1])
        return BuiltinOptions.Conv2DOptions, tflite.Conv2DOptionsEnd(b)
    return build


def depthwise_conv_options(padding: int = tflite.Padding.VALID,
                           activation: int = tflite.ActivationFunctionType.NONE, stride: tuple[int, int] = (1, 1),
                           dilation: tuple[int, int] = (1, 1), depth_multiplier: int = 1) -> Options:
    """DEPTHWISE_CONV_2D; stride and dilation as (along H, along W)."""
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.DepthwiseConv2DOptionsStart(b)
        tflite.DepthwiseConv2DOptionsAddPadding(b, padding)
        tflite.DepthwiseConv2DOptionsAddStrideH(b, stride[0])
        tflite.DepthwiseConv2DOptionsAddStrideW(b, stride[1])
        tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, depth_multiplier)
        tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, activation)
        tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, dilation[0])
        tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, dilation[1])
        return BuiltinOptions.DepthwiseConv2DOptions, tflite.DepthwiseConv2DOptionsEnd(b)
    return build


def pool_options(filter_size: tuple[int, int], stride: tuple[int, int] = (1, 1), padding: int = tflite.Padding.VALID,
                 activation: int = tflite.ActivationFunctionType.NONE) -> Options:
    """AVERAGE_POOL_2D or MAX_POOL_2D; filter size and stride as (along H, along W)."""
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.Pool2DOptionsStart(b)
        tflite.Pool2DOptionsAddPadding(b, padding)
        tflite.Pool2DOptionsAddStrideH(b, stride[0])
        tflite.Pool2DOptionsAddStrideW(b, stride[1])
        tflite.Pool2DOptionsAddFilterHeight(b, filter_size[0])
        tflite.Pool2DOptionsAddFilterWidth(b, filter_size[1])
        tflite.Pool2DOptionsAddFusedActivationFunction(b, activation)
        return BuiltinOptions.Pool2DOptions, tflite.Pool2DOptionsEnd(b)
    return build


def softmax_options(beta: float = 1.0) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.SoftmaxOptionsStart(b)
        tflite.SoftmaxOptionsAddBeta(b, beta)
        return BuiltinOptions.SoftmaxOptions, tflite.SoftmaxOptionsEnd(b)
    return build


def concatenation_options(axis: int, activation: int = tflite.ActivationFunctionType.NONE) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.ConcatenationOptionsStart(b)
        tflite.ConcatenationOptionsAddAxis(b, axis)
        tflite.ConcatenationOptionsAddFusedActivationFunction(b, activation)
        return BuiltinOptions.ConcatenationOptions, tflite.ConcatenationOptionsEnd(b)
    return build


def reshape_options(new_shape: tuple[int, ...]) -> Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        shape = b.CreateNumpyVector(np.asarray(new_shape, np.int32))
        tflite.ReshapeOptionsStart(b)
        tflite.ReshapeOptionsAddNewShape(b, shape)
        return BuiltinOptions.ReshapeOptions, tflite.ReshapeOptionsEnd(b)
    return build


def _vector(b: flatbuffers.Builder, start: Callable[[flatbuffers.Builder, int], None], items: list[int],
            prepend: Callable[[int], None]) -> int:
    start(b, len(items))
    for item in reversed(items):
        prepend(item)
    return int(b.EndVector())


def _quantization(b: flatbuffers.Builder, quantization: Quantization) -> int:
    scale = b.CreateNumpyVector(np.asarray(quantization.scale, np.float32))
    zero_point = b.CreateNumpyVector(np.asarray(quantization.zero_point, np.int64))
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale)
    tflite.QuantizationParametersAddZeroPoint(b, zero_point)
    tflite.QuantizationParametersAddQuantizedDimension(b, quantization.quantized_dimension)
    return int(tflite.QuantizationParametersEnd(b))


def write(graph: Graph) -> bytes:
    """The graph as a .tflite file (schema version 3, one subgraph)."""
    b = flatbuffers.Builder(1024)
    buffers = []
    stored = [None if t.data is None else np.asarray(t.data, STORED_AS[t.element_type]) for t in graph.tensors]
    for data in [None] + stored:  # buffer 0 is the empty one, by convention
        data_vector = b.CreateNumpyVector(np.frombuffer(data.tobytes(), np.uint8)) if data is not None else None
        tflite.BufferStart(b)
        if data_vector is not None:
            tflite.BufferAddData(b, data_vector)
        buffers.append(tflite.BufferEnd(b))
    tensors = []
    for index, t in enumerate(graph.tensors):
        name = b.CreateString(t.name)
        shape = b.CreateNumpyVector(np.asarray(t.shape, np.int32))
        quantization = _quantization(b, t.quantization) if t.quantization else None
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, t.element_type)
        tflite.TensorAddBuffer(b, index + 1 if t.data is not None else 0)
        tflite.TensorAddName(b, name)
        if quantization is not None:
            tflite.TensorAddQuantization(b, quantization)
        tensors.append(tflite.TensorEnd(b))
    codes = sorted({op.code for op in graph.operators})
    code_tables = []
    for code in codes:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddBuiltinCode(b, code)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        tflite.OperatorCodeAddVersion(b, 1)
        code_tables.append(tflite.OperatorCodeEnd(b))
    operators = []
    for op in graph.operators:
        options = op.options(b) if op.options else None
        inputs = b.CreateNumpyVector(np.asarray(op.inputs, np.int32))
        outputs = b.CreateNumpyVector(np.asarray(op.outputs, np.int32))
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, codes.index(op.code) if op.opcode_index is None else op.opcode_index)
        tflite.OperatorAddInputs(b, inputs)
        tflite.OperatorAddOutputs(b, outputs)
        if options:
            tflite.OperatorAddBuiltinOptionsType(b, options[0])
            tflite.OperatorAddBuiltinOptions(b, options[1])
        operators.append(tflite.OperatorEnd(b))
    tensor_vector = _vector(b, tflite.SubGraphStartTensorsVector, tensors, b.PrependUOffsetTRelative)
    input_vector = b.CreateNumpyVector(np.asarray(graph.inputs, np.int32))
    output_vector = b.CreateNumpyVector(np.asarray(graph.outputs, np.int32))
    operator_vector = _vector(b, tflite.SubGraphStartOperatorsVector, operators, b.PrependUOffsetTRelative)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vector)
    tflite.SubGraphAddInputs(b, input_vector)
    tflite.SubGraphAddOutputs(b, output_vector)
    tflite.SubGraphAddOperators(b, operator_vector)
    subgraph = tflite.SubGraphEnd(b)
    subgraphs = _vector(b, tflite.ModelStartSubgraphsVector, [subgraph], b.PrependUOffsetTRelative)
    code_vector = _vector(b, tflite.ModelStartOperatorCodesVector, code_tables, b.PrependUOffsetTRelative)
    buffer_vector = _vector(b, tflite.ModelStartBuffersVector, buffers, b.PrependUOffsetTRelative)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, code_vector)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffer_vector)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())

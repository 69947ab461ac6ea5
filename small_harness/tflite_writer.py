"""A minimal .tflite writer for tests: float32 tensors, builtin operators, constant buffers. It makes
the small models that real files do not cover (element-wise ops with constant operands, broadcasting,
NaN inputs), which the importer, the library and LiteRT then read like any other file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOptions import BuiltinOptions

Options = Callable[[flatbuffers.Builder], tuple[int, int]]  # -> (BuiltinOptions type, table offset)


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None  # a constant; None for an activation


@dataclass
class Operator:
    code: int  # tflite.BuiltinOperator
    inputs: list[int]
    outputs: list[int]
    options: Options | None = None


@dataclass
class Graph:
    tensors: list[Tensor] = field(default_factory=list)
    operators: list[Operator] = field(default_factory=list)
    inputs: list[int] = field(default_factory=list)
    outputs: list[int] = field(default_factory=list)

    def tensor(self, name: str, shape: tuple[int, ...], data: np.ndarray | None = None) -> int:
        self.tensors.append(Tensor(name, shape, None if data is None else np.asarray(data, np.float32)))
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


def _vector(b: flatbuffers.Builder, start: Callable[[flatbuffers.Builder, int], None], items: list[int],
            prepend: Callable[[int], None]) -> int:
    start(b, len(items))
    for item in reversed(items):
        prepend(item)
    return int(b.EndVector())


def write(graph: Graph) -> bytes:
    """The graph as a .tflite file (schema version 3, one subgraph)."""
    b = flatbuffers.Builder(1024)
    buffers = []
    for data in [None] + [t.data for t in graph.tensors]:  # buffer 0 is the empty one, by convention
        data_vector = b.CreateNumpyVector(np.frombuffer(data.astype("<f4").tobytes(), np.uint8)) \
            if data is not None else None
        tflite.BufferStart(b)
        if data_vector is not None:
            tflite.BufferAddData(b, data_vector)
        buffers.append(tflite.BufferEnd(b))
    tensors = []
    for index, t in enumerate(graph.tensors):
        name = b.CreateString(t.name)
        shape = b.CreateNumpyVector(np.asarray(t.shape, np.int32))
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, tflite.TensorType.FLOAT32)
        tflite.TensorAddBuffer(b, index + 1 if t.data is not None else 0)
        tflite.TensorAddName(b, name)
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
        tflite.OperatorAddOpcodeIndex(b, codes.index(op.code))
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

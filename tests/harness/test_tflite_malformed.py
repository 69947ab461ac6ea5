"""The importer refuses malformed .tflite files, each in one ModelImportError naming the file, the
operator or tensor and what is wrong, where it used to read past a table, infer a dimension, or run
int8 activations as float32 (issue 25). The files are written here by small_harness/models/tflite_writer.py,
which checks nothing; pure Python, no target is built and no model file is needed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tflite

from small_harness.models.tflite_import import ModelImportError, import_tflite
from small_harness.models.tflite_writer import Graph, Operator, conv_options, fully_connected_options, write

OP = tflite.BuiltinOperator
TYPE = tflite.TensorType


def fully_connected(weights_shape: tuple[int, ...] = (3, 4), weights_values: int = 12, bias_values: int | None = 3,
                    input_shape: tuple[int, ...] = (1, 4), activation_type: int = TYPE.FLOAT32) -> Graph:
    """x (1, 4) -> FULLY_CONNECTED -> y (1, 3), with the weights' declared shape, their number of values
    and the bias' length given apart, so that each can disagree with the others."""
    g = Graph()
    x = g.tensor("x", input_shape, element_type=activation_type)
    w = g.tensor("weights", weights_shape, np.linspace(-1, 1, weights_values))
    inputs = [x, w] + ([] if bias_values is None else [g.tensor("bias", (bias_values,), np.ones(bias_values))])
    y = g.tensor("y", (1, 3), element_type=activation_type)
    g.operators = [Operator(OP.FULLY_CONNECTED, inputs, [y], fully_connected_options())]
    g.inputs, g.outputs = [x], [y]
    return g


def convolution(filter_shape: tuple[int, ...], filter_values: int = 54) -> Graph:
    """x (1, 5, 5, 2) -> CONV_2D 3x3, 3 output channels -> y (1, 3, 3, 3), the filter's shape as given."""
    g = Graph()
    x = g.tensor("x", (1, 5, 5, 2))
    w = g.tensor("filter", filter_shape, np.linspace(-1, 1, filter_values))
    b = g.tensor("bias", (3,), np.zeros(3))
    y = g.tensor("y", (1, 3, 3, 3))
    g.operators = [Operator(OP.CONV_2D, [x, w, b], [y], conv_options())]
    g.inputs, g.outputs = [x], [y]
    return g


def refusal(graph: Graph, tmp_path: Path, name: str = "malformed.tflite") -> str:
    path = tmp_path / name
    path.write_bytes(write(graph))
    with pytest.raises(ModelImportError) as caught:
        import_tflite(path)
    message = str(caught.value)
    assert name in message and "\n" not in message, message
    return message


def test_the_well_formed_files_import(tmp_path: Path) -> None:
    """The files below differ from these in one thing each: what they are refused for."""
    for graph in (fully_connected(), fully_connected(bias_values=None), convolution((3, 3, 3, 2))):
        path = tmp_path / "good.tflite"
        path.write_bytes(write(graph))
        assert len(import_tflite(path).nodes) == 1


@pytest.mark.parametrize("opcode_index", [1, 2, 5])
def test_an_opcode_index_past_the_opcode_table_is_refused(tmp_path: Path, opcode_index: int) -> None:
    """It used to read the bytes past the vector as an operator code (index 2 here: TANH; in other files
    an op the library has, which then ran), or fail deep in the parser."""
    graph = fully_connected()
    graph.operators[0].opcode_index = opcode_index
    message = refusal(graph, tmp_path)
    assert f"operator 0: opcode index {opcode_index} is past the opcode table (1 entry)" in message


def test_a_tensor_index_past_the_tensor_table_is_refused(tmp_path: Path) -> None:
    graph = fully_connected()
    graph.operators[0].inputs[0] = 40
    assert "tensor index 40 is outside the tensor table (4 tensors)" in refusal(graph, tmp_path)


@pytest.mark.parametrize("element_type, name", [(TYPE.INT8, "int8"), (TYPE.UINT8, "uint8"), (TYPE.INT16, "int16")])
def test_integer_activations_are_refused_not_run_as_float(tmp_path: Path, element_type: int, name: str) -> None:
    """Float weights, no bias: nothing else is wrong, so this used to import and run the integers as floats."""
    message = refusal(fully_connected(bias_values=None, activation_type=element_type), tmp_path)
    assert f"tensor 0 'x' is {name} activations: full-integer (quantized) models are not supported yet" in message


def test_other_activation_types_are_refused_for_their_type(tmp_path: Path) -> None:
    message = refusal(fully_connected(bias_values=None, activation_type=TYPE.INT32), tmp_path)
    assert "tensor 0 'x' is int32 activations: the library computes in float32" in message


@pytest.mark.parametrize("filter_shape", [(3, -1, 3, 2), (3, 0, 3, 2), (3, 3, 3, -2)])
def test_a_filter_dimension_below_1_is_refused(tmp_path: Path, filter_shape: tuple[int, ...]) -> None:
    """numpy's reshape used to infer a -1 from the number of values."""
    message = refusal(convolution(filter_shape), tmp_path)
    assert f"tensor 1 'filter' has shape {filter_shape}: every dimension must be at least 1" in message


def test_an_activation_dimension_below_1_is_refused(tmp_path: Path) -> None:
    message = refusal(fully_connected(input_shape=(1, -4)), tmp_path)
    assert "tensor 0 'x' has shape (1, -4): every dimension must be at least 1" in message


def test_a_tensor_name_cannot_break_the_error_line(tmp_path: Path) -> None:
    graph = fully_connected(input_shape=(1, -4))
    graph.tensors[0].name = "x\nTraceback"
    assert "tensor 0 'x?Traceback' has shape (1, -4)" in refusal(graph, tmp_path)


@pytest.mark.parametrize("values", [11, 13])
def test_weights_that_do_not_fill_their_shape_exactly_are_refused(tmp_path: Path, values: int) -> None:
    message = refusal(fully_connected(weights_values=values), tmp_path)
    assert f"tensor 1 'weights': its buffer holds {4 * values} bytes, where shape (3, 4) of float32 takes 48" in message


@pytest.mark.parametrize("values", [5, 2])
def test_a_bias_of_another_length_than_the_output_channels_is_refused(tmp_path: Path, values: int) -> None:
    message = refusal(fully_connected(bias_values=values), tmp_path)
    assert f"operator 0 (FULLY_CONNECTED): bias tensor 2 'bias' has {values} values for 3 output channels" in message


def test_a_bias_that_is_not_a_constant_is_refused(tmp_path: Path) -> None:
    """It used to be taken for an absent bias: the layer ran without it."""
    graph = fully_connected()
    graph.tensors[2].data = None
    assert "operator 0 (FULLY_CONNECTED): bias tensor 2 'bias' is not a constant" in refusal(graph, tmp_path)


def test_weights_of_another_input_size_are_refused(tmp_path: Path) -> None:
    """(3, 6) weights for an input of 4 values: the library would read past the input's row."""
    message = refusal(fully_connected(weights_shape=(3, 6), weights_values=18, input_shape=(1, 4)), tmp_path)
    assert "operator 0 (FULLY_CONNECTED): weights tensor 1 'weights' of shape (3, 6) take 6 inputs; tensor 0 'x' " \
           "has 4 values" in message


def test_a_filter_whose_channels_do_not_divide_the_input_channels_is_refused(tmp_path: Path) -> None:
    """2 input channels, filter of depth 3: 2 // 3 = 0 groups used to go into the file."""
    message = refusal(convolution((3, 3, 3, 3), filter_values=81), tmp_path)
    assert "operator 0 (CONV_2D): filter tensor 1 'filter' of depth 3 does not divide the 2 input channels" in message


def test_a_constant_of_another_type_is_refused_naming_its_type(tmp_path: Path) -> None:
    """An int32 bias (as full-integer models have) in a float model: the message used to say only
    "neither float32 nor quantized int8", without the tensor's name or type."""
    graph = fully_connected()
    graph.tensors[2].element_type = TYPE.INT32
    message = refusal(graph, tmp_path)
    assert "tensor 2 'bias' is a constant of int32; the library takes float32 constants, or int8 ones with scales" \
        in message

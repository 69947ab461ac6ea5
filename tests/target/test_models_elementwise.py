"""Element-wise ops with constant operands, as real models use them (a per-channel scale and offset,
a constant subtracted, a scalar): small .tflite files written here (small_harness/models/tflite_writer.py),
imported, run by the library on the target, and compared bit for bit with LiteRT on the same file,
with fused activations and NaN inputs too. What the library does not do is refused at import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tflite

from small_harness.models.format import encode
from small_harness.runner.client import Runner
from small_harness.models.tflite_import import ModelImportError, import_tflite
from small_harness.models.tflite_writer import Graph, Operator, add_options, mul_options, sub_options, write

OP = tflite.BuiltinOperator
RELU6 = tflite.ActivationFunctionType.RELU6
SHAPE = (1, 5, 3, 19)  # NHWC; 19 channels leave a vector tail on every ISA


def _chain(scale: np.ndarray, offset: np.ndarray, subtrahend: float) -> Graph:
    """((x * scale) + offset) - subtrahend, then 1 - that with relu6, then + x (two activations)."""
    g = Graph()
    x = g.tensor("x", SHAPE)
    scaled = g.tensor("scaled", SHAPE)
    shifted = g.tensor("shifted", SHAPE)
    lowered = g.tensor("lowered", SHAPE)
    flipped = g.tensor("flipped", SHAPE)
    y = g.tensor("y", SHAPE)
    g.operators = [
        Operator(OP.MUL, [x, g.tensor("scale", scale.shape, scale)], [scaled], mul_options()),
        Operator(OP.ADD, [g.tensor("offset", offset.shape, offset), scaled], [shifted], add_options()),
        Operator(OP.SUB, [shifted, g.tensor("subtrahend", (), np.float32(subtrahend))], [lowered], sub_options()),
        Operator(OP.SUB, [g.tensor("one", (1,), np.ones(1)), lowered], [flipped], sub_options(RELU6)),
        Operator(OP.ADD, [flipped, x], [y], add_options()),
    ]
    g.inputs, g.outputs = [x], [y]
    return g


def _litert(path: Path, x: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


@pytest.fixture(scope="module")
def chain_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(7)
    scale = rng.uniform(-2, 2, (1, 1, 1, SHAPE[3])).astype(np.float32)
    offset = rng.uniform(-1, 1, (SHAPE[3],)).astype(np.float32)
    path = tmp_path_factory.mktemp("elementwise") / "chain.tflite"
    path.write_bytes(write(_chain(scale, offset, 0.25)))
    return path


def test_constant_operands_match_litert_exactly(runner: Runner, chain_file: Path) -> None:
    model = import_tflite(chain_file)
    assert [type(node.layer).__name__ for node in model.nodes] == ["Conv2D"] * 4 + ["Add"]
    runner.load_model(encode(model))
    x = np.random.default_rng(8).uniform(-4, 4, SHAPE).astype(np.float32)
    x.reshape(-1)[::17] = np.nan  # NaN goes through every op as in LiteRT
    expected = _litert(chain_file, x)
    got = runner.run_model(x.reshape(SHAPE[1:])).output.reshape(SHAPE)
    np.testing.assert_array_equal(got, expected)  # one float32 rounding per op, as LiteRT's


def _refused(graph: Graph, tmp_path: Path) -> str:
    path = tmp_path / "refused.tflite"
    path.write_bytes(write(graph))
    with pytest.raises(ModelImportError) as caught:
        import_tflite(path)
    return str(caught.value)


@pytest.mark.per_target
def test_unsupported_element_wise_forms_are_refused_at_import(tmp_path: Path) -> None:
    """By operator, tensor and reason, before any file reaches the C loader."""
    g = Graph()
    x, y = g.tensor("x", SHAPE), g.tensor("y", SHAPE)
    g.operators = [Operator(OP.ADD, [x, g.tensor("image", SHAPE, np.ones(SHAPE))], [y], add_options())]
    g.inputs, g.outputs = [x], [y]
    message = _refused(g, tmp_path)
    assert "operator 0 (ADD): constant tensor 2 'image' of shape (1, 5, 3, 19) varies over height or width" in message

    g = Graph()
    x, y = g.tensor("x", SHAPE), g.tensor("y", SHAPE)
    g.operators = [Operator(OP.MUL, [x, x], [y], mul_options())]
    g.inputs, g.outputs = [x], [y]
    assert "operator 0 (MUL): MUL of two activations (tensors 0 and 0) is not supported" in _refused(g, tmp_path)

    g = Graph()
    x, row, y = g.tensor("x", SHAPE), g.tensor("row", (1, 1, 3, 19)), g.tensor("y", SHAPE)
    g.operators = [Operator(OP.ADD, [x, row], [y], add_options())]
    g.inputs, g.outputs = [x], [y]
    assert "ADD broadcasts tensor 0 (1, 5, 3, 19) against tensor 1 (1, 1, 3, 19)" in _refused(g, tmp_path)

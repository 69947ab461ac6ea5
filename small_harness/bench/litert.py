"""LiteRT beside each bench layer: the layer as a one-operator .tflite file (CONV_2D, DEPTHWISE_CONV_2D
or FULLY_CONNECTED with the same weights and bias as ours, written by tflite_writer.py), run by
LiteRT's interpreter in this process at one thread (or at bench --threads' counts) (XNNPACK picks its kernels at run time), timed
around a Python loop of invoke() calls whose own cost is subtracted (as bench --models does).

Issue 11's goals per layer kind, as our GFLOP/s over LiteRT's in the same run: conv 3x3 and 1x1 at
least 1.05x, depthwise 1.2x, a first layer (3 or fewer input channels) 1.0x, fully connected 1.0x."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOptions import BuiltinOptions

from small_harness.models import tflite_writer as W
from small_harness.bench.layer_list import BenchLayer
from small_harness.bench.models import _interpreter, _litert_loop_ns, _python_loop_ns
from small_harness.core.errors import HarnessError

_ACTIVATIONS = {"none": tflite.ActivationFunctionType.NONE, "relu": tflite.ActivationFunctionType.RELU,
                "relu6": tflite.ActivationFunctionType.RELU6}
# LiteRT's outputs differ from ours by summation order only: a few float32 roundings of the output scale.
AGREEMENT_RTOL = 1e-4


def goal_ratio(layer: BenchLayer) -> float:
    """The speed over LiteRT's that issue 11 asks of this layer."""
    if layer.op == "fully_connected":
        return 1.0
    if layer.op == "depthwise":
        return 1.2
    if layer.input[2] <= 3:
        return 1.0  # a first layer
    return 1.05


def _tflite_padding(layer: BenchLayer) -> int | None:
    """SAME or VALID where the layer's padding is one of them; None where LiteRT has no equivalent."""
    if layer.padding == "same":
        return tflite.Padding.SAME
    if layer.padding == "valid":
        return tflite.Padding.VALID
    if not any(layer.padding):
        return tflite.Padding.VALID
    out_h, out_w = layer.output_hw()
    same = []
    for size, taps, stride, out in ((layer.input[0], layer.kernel[0], layer.stride[0], out_h),
                                    (layer.input[1], layer.kernel[1], layer.stride[1], out_w)):
        total = max((out - 1) * stride + taps - size, 0)
        same += [total // 2, total - total // 2]
    return tflite.Padding.SAME if tuple(layer.padding) == tuple(same) else None


def _conv_options(layer: BenchLayer, padding: int, depthwise: bool) -> W.Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        if depthwise:
            tflite.DepthwiseConv2DOptionsStart(b)
            tflite.DepthwiseConv2DOptionsAddPadding(b, padding)
            tflite.DepthwiseConv2DOptionsAddStrideH(b, layer.stride[0])
            tflite.DepthwiseConv2DOptionsAddStrideW(b, layer.stride[1])
            tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, 1)
            tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, _ACTIVATIONS[layer.activation])
            tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, 1)
            tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, 1)
            return BuiltinOptions.DepthwiseConv2DOptions, tflite.DepthwiseConv2DOptionsEnd(b)
        tflite.Conv2DOptionsStart(b)
        tflite.Conv2DOptionsAddPadding(b, padding)
        tflite.Conv2DOptionsAddStrideH(b, layer.stride[0])
        tflite.Conv2DOptionsAddStrideW(b, layer.stride[1])
        tflite.Conv2DOptionsAddFusedActivationFunction(b, _ACTIVATIONS[layer.activation])
        tflite.Conv2DOptionsAddDilationHFactor(b, 1)
        tflite.Conv2DOptionsAddDilationWFactor(b, 1)
        return BuiltinOptions.Conv2DOptions, tflite.Conv2DOptionsEnd(b)
    return build


def _fc_options(layer: BenchLayer) -> W.Options:
    def build(b: flatbuffers.Builder) -> tuple[int, int]:
        tflite.FullyConnectedOptionsStart(b)
        tflite.FullyConnectedOptionsAddFusedActivationFunction(b, _ACTIVATIONS[layer.activation])
        return BuiltinOptions.FullyConnectedOptions, tflite.FullyConnectedOptionsEnd(b)
    return build


def layer_file(layer: BenchLayer, weights: np.ndarray, bias: np.ndarray) -> bytes | None:
    """The layer as a one-operator .tflite file, or None where LiteRT has no equivalent (a padding
    neither SAME nor VALID, an activation it does not fuse)."""
    if layer.activation not in _ACTIVATIONS:
        return None
    g = W.Graph()
    x = g.tensor("input", (1, *layer.input))
    b = g.tensor("bias", (layer.out_channels,), bias)
    if layer.op == "fully_connected":
        w = g.tensor("weights", tuple(weights.shape), weights)
        y = g.tensor("output", (1, layer.out_channels))
        g.operators.append(W.Operator(tflite.BuiltinOperator.FULLY_CONNECTED, [x, w, b], [y], _fc_options(layer)))
    else:
        padding = _tflite_padding(layer)
        if padding is None:
            return None
        depthwise = layer.op == "depthwise"
        # Ours are [out][kh][kw][in / groups]; LiteRT's depthwise filter is [1][kh][kw][channels].
        filters = np.ascontiguousarray(weights.transpose(3, 1, 2, 0)) if depthwise else weights
        w = g.tensor("weights", tuple(filters.shape), filters)
        y = g.tensor("output", (1, *layer.output_hw(), layer.out_channels))
        code = tflite.BuiltinOperator.DEPTHWISE_CONV_2D if depthwise else tflite.BuiltinOperator.CONV_2D
        g.operators.append(W.Operator(code, [x, w, b], [y], _conv_options(layer, padding, depthwise)))
    g.inputs, g.outputs = [x], [y]
    return W.write(g)


def litert_layer(layer: BenchLayer, x: np.ndarray, weights: np.ndarray, bias: np.ndarray) -> "LiteRTLayer":
    """The layer in LiteRT; HarnessError where LiteRT has no equivalent (layer_file gives None)."""
    data = layer_file(layer, weights, bias)
    if data is None:
        raise HarnessError(f"{layer.name}: no LiteRT equivalent of its padding or activation")
    return LiteRTLayer(layer, data, x)


class LiteRTLayer:
    """One bench layer in LiteRT's interpreter (its one-operator file from layer_file), with our input set,
    at `threads` threads (its XNNPACK thread pool)."""

    def __init__(self, layer: BenchLayer, data: bytes, x: np.ndarray, threads: int = 1) -> None:
        with tempfile.TemporaryDirectory(prefix="small-bench-litert-") as folder:
            path = Path(folder) / f"{layer.name}.tflite"
            path.write_bytes(data)
            self.interpreter: Any = _interpreter(path, threads)
        self.interpreter.set_tensor(self.interpreter.get_input_details()[0]["index"], x[np.newaxis])

    def output(self) -> np.ndarray:
        self.interpreter.invoke()
        return np.array(self.interpreter.get_tensor(self.interpreter.get_output_details()[0]["index"]))

    def batch_ns(self, repeat: int) -> float:
        """Per invoke(), the Python loop's own cost subtracted."""
        return _litert_loop_ns(self.interpreter, repeat) - _python_loop_ns(repeat)


def check_agreement(layer: BenchLayer, ours: np.ndarray, litert: np.ndarray) -> None:
    """The two compute the same layer: else the comparison of their speeds would mean nothing."""
    want = litert.ravel().astype(np.float64)
    error = np.abs(ours.ravel() - want).max()
    scale = max(np.abs(want).max(), 1e-30)
    if error > AGREEMENT_RTOL * scale:
        raise HarnessError(f"{layer.name}: LiteRT's one-operator model disagrees with ours (max error {error:.3g}, "
                           f"scale {scale:.3g}): the bench would compare different layers")

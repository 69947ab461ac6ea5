"""FullyConnected, checked against reference.fully_connected: served by the fully connected kernel
(a matrix-vector product over the input flattened in HWC order), so its edges are the output channels
around its channel tile T and inside it (whole vectors and partial ones: a tile holds 4 vectors in
the fixed-width template, 2 in the vector-length agnostic one), and the reduction length K = H * W * C
around each number of interleaved partial sums (2 for a whole tile, up to 8 for a narrow block).
A convolution whose one window is its whole input is the same product and kernel."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from itertools import cycle

import numpy as np
import pytest

import reference as ref
from reference import Edge, Quarter, Size
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo


@dataclass(frozen=True)
class FcCase:
    hw: tuple[int, int]
    channels: Size  # input channels; K = H * W * channels
    out_channels: Size
    activation: L.Activation = "none"
    alpha: float = 0.0
    bias: bool = True
    magnitude: ref.Magnitude = ref.NORMAL

    def __str__(self) -> str:
        text = (f"fc-h{self.hw[0]}-w{self.hw[1]}-c{ref.label(self.channels, 'T')}-"
                f"o{ref.label(self.out_channels, 'T')}-{ref.activation_label(self.activation, self.alpha)}")
        text += "" if self.bias else "-nobias"
        return text + ("" if self.magnitude is ref.NORMAL else f"-{self.magnitude.name}")


def fc_operands(case: FcCase, input_shape: tuple[int, int, int], out_channels: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    rng = ref.case_rng(str(case))
    k = math.prod(input_shape)
    if case.magnitude is ref.NORMAL:
        # Pre-activations of standard deviation sqrt(K) * s / 3 = 6, as for conv.
        x = ref.uniform(rng, input_shape, 18.0 / math.sqrt(k))
        weights = ref.uniform(rng, (out_channels, k), 1.0)
        bias = ref.uniform(rng, (out_channels,), 3.0)
    else:
        x = ref.banded(rng, input_shape, case.magnitude.input_scale)
        weights = ref.banded(rng, (out_channels, k), case.magnitude.weight_scale)
        bias = ref.banded(rng, (out_channels,), case.magnitude.input_scale * case.magnitude.weight_scale)
    return x, weights, bias if case.bias else None


# --- A 1 x 1 x K input: output channels around T, 2T and each vector count inside T with a long
# reduction; then K over every remainder of up to 8 partial sums, and around T, for a whole block
# followed by a one-channel block (a 1-vector block: the most sums).
OUTPUT_EDGES: tuple[Size, ...] = (*ref.CHANNEL_EDGES, Quarter(1, -1), Quarter(1), Quarter(1, 1), Quarter(2, -1),
                                  Quarter(2), Quarter(2, 1), Quarter(3), Quarter(3, 1), Edge(2), Edge(3, -1))
REDUCTION_EDGES: tuple[Size, ...] = (*range(1, 10), 15, 16, 17, Edge(1, -1), Edge(1), Edge(1, 1), Edge(4, 1))
VECTOR_CASES = (
    [FcCase((1, 1), Edge(2, 1), o) for o in OUTPUT_EDGES]
    + [FcCase((1, 1), k, Edge(1, 1)) for k in REDUCTION_EDGES]
    + [FcCase((1, 1), k, Quarter(3, 1)) for k in range(1, 5)]
)
# --- H x W x C inputs, where the flattening order (HWC) matters.
SPATIAL_INPUTS: tuple[tuple[tuple[int, int], Size], ...] = (
    ((2, 3), 5), ((3, 4), Edge(1, 1)), ((4, 4), 3), ((1, 5), 2), ((5, 1), 7), ((6, 6), Edge(1, -1)))
SPATIAL_OUTPUTS: tuple[Size, ...] = (Edge(1, 1), 1, Edge(2, 1), Edge(1, -1), Edge(1))
SPATIAL_CASES = [FcCase(hw, c, o) for (hw, c), o in zip(SPATIAL_INPUTS, cycle(SPATIAL_OUTPUTS))]
EPILOGUE_CASES = [FcCase((2, 3), 5, Edge(1, 1), activation, alpha, bias)
                  for activation, alpha in ref.ACTIVATIONS for bias in (True, False)]
MAGNITUDE_CASES = [
    FcCase((2, 3), 5, Edge(1, 1), magnitude=ref.LARGE),
    FcCase((3, 2), 4, Edge(1, 1), "relu", magnitude=ref.TINY),
    FcCase((1, 1), Edge(4, 1), Edge(2, 1), "leaky_relu", -0.5, magnitude=ref.LARGE),
]
CASES = list({str(c): c for c in VECTOR_CASES + SPATIAL_CASES + EPILOGUE_CASES + MAGNITUDE_CASES}.values())


@pytest.mark.parametrize("case", CASES, ids=str)
def test_fully_connected(runner: Runner, runner_info: RunnerInfo, case: FcCase) -> None:
    tile = ref.channel_tile(runner_info.kernels["fc"])
    channels, out_channels = ref.resolve(case.channels, tile), ref.resolve(case.out_channels, tile)
    if min(channels, out_channels) < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    x, weights, bias = fc_operands(case, (*case.hw, channels), out_channels)
    layer = L.FullyConnected(out_channels, case.activation, case.alpha)
    result = runner.run(layer, [x], weights, bias)
    ref.assert_kernel(result, runner_info, "fc")
    ref.assert_matches(result.output, ref.fully_connected(layer, x, weights, bias), str(case))


# --- A convolution whose one window is its whole input (unpadded): the same product, on the fc kernel,
# with OHWI weights; padding or a second window position makes it a conv again.
WHOLE_INPUT_CONVS = [
    ("1x1-on-1x1", (1, 1, Edge(1, 1)), L.Conv2D(Edge(1, 1), (1, 1)), "fc"),  # type: ignore[arg-type]
    ("3x3-on-3x3", (3, 3, 5), L.Conv2D(Quarter(3, 1), (3, 3), activation="relu"), "fc"),  # type: ignore[arg-type]
    ("2x4-on-2x4-stride-2", (2, 4, 3), L.Conv2D(Edge(1, -1), (2, 4), (2, 2)), "fc"),  # type: ignore[arg-type]
    ("3x3-on-3x3-same", (3, 3, 5), L.Conv2D(Edge(1), (3, 3), padding="same"), "conv"),  # type: ignore[arg-type]
    ("3x3-on-4x3", (4, 3, 5), L.Conv2D(Edge(1), (3, 3)), "conv"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("name,shape,layer,kind", WHOLE_INPUT_CONVS, ids=[c[0] for c in WHOLE_INPUT_CONVS])
def test_conv_over_the_whole_input_is_fully_connected(runner: Runner, runner_info: RunnerInfo, name: str,
                                                      shape: tuple[Size, Size, Size], layer: L.Conv2D,
                                                      kind: str) -> None:
    tile = ref.channel_tile(runner_info.kernels["fc"])
    in_shape = tuple(ref.resolve(s, tile) for s in shape)
    conv = dataclasses.replace(layer, out_channels=ref.resolve(layer.out_channels, tile))
    assert ref.conv_kind(conv, in_shape) == kind  # type: ignore[arg-type]
    rng = ref.case_rng(name)
    x = ref.uniform(rng, in_shape, 3.0)
    weights = ref.uniform(rng, (conv.out_channels, *conv.kernel, in_shape[2]), 1.0)
    bias = ref.uniform(rng, (conv.out_channels,), 1.0)
    result = runner.run(conv, [x], weights, bias)
    ref.assert_kernel(result, runner_info, kind)
    ref.assert_matches(result.output, ref.conv2d(conv, x, weights, bias), name)

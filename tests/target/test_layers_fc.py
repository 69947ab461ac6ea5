"""FullyConnected, checked against reference.fully_connected: served by the conv kernel as a 1x1
convolution of the input flattened in HWC order, so its edges are the output channels around the
conv kernel's channel tile and the reduction length K = H * W * C."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import cycle

import numpy as np
import pytest

import reference as ref
from reference import Edge, Size
from small_harness import layers as L
from small_harness.runner import Runner, RunnerInfo


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


# --- A 1 x 1 x K input: output channels around T with a long reduction, then K around T.
VECTOR_CASES = (
    [FcCase((1, 1), Edge(2, 1), o) for o in ref.CHANNEL_EDGES]
    + [FcCase((1, 1), k, Edge(1, 1)) for k in (*ref.CHANNEL_EDGES, Edge(4, 1)) if k != Edge(2, 1)]
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
    tile = ref.channel_tile(runner_info.kernels["conv"])
    channels, out_channels = ref.resolve(case.channels, tile), ref.resolve(case.out_channels, tile)
    if min(channels, out_channels) < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    x, weights, bias = fc_operands(case, (*case.hw, channels), out_channels)
    layer = L.FullyConnected(out_channels, case.activation, case.alpha)
    result = runner.run(layer, [x], weights, bias)
    ref.assert_kernel(result, runner_info, "conv")
    ref.assert_matches(result.output, ref.fully_connected(layer, x, weights, bias), str(case))

"""The bench's LiteRT side: each bench layer as a one-operator .tflite file computes what the numpy
reference computes for our layer (else the speed comparison would compare different work), paddings
LiteRT cannot express are left out, and the goals follow the layer kind."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from small_harness.bench.layer_list import BenchLayer
from small_harness.bench.litert import check_agreement, goal_ratio, layer_file, litert_layer
from small_harness.core.errors import HarnessError

sys.path.insert(0, str(Path(__file__).parents[1]))
import reference as ref  # noqa: E402

LAYERS = [
    BenchLayer("conv-same", "conv2d", (9, 7, 5), 6, kernel=(3, 3), padding=(1, 1, 1, 1), activation="relu"),
    BenchLayer("conv-s2", "conv2d", (8, 10, 4), 8, kernel=(3, 3), stride=(2, 2), padding=(0, 1, 0, 1)),
    BenchLayer("pointwise", "conv2d", (5, 5, 7), 3),
    BenchLayer("depthwise", "depthwise", (8, 6, 5), 5, kernel=(3, 3), padding=(1, 1, 1, 1), activation="relu6"),
    BenchLayer("fc", "fully_connected", (1, 1, 13), 4),
]


def _operands(layer: BenchLayer) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return (rng.uniform(-1, 1, layer.input).astype(np.float32),
            rng.uniform(-1, 1, layer.weight_shape()).astype(np.float32),
            rng.uniform(-1, 1, (layer.out_channels,)).astype(np.float32))


@pytest.mark.parametrize("layer", LAYERS, ids=lambda layer: layer.name)
def test_the_litert_layer_computes_our_layer(layer: BenchLayer) -> None:
    x, weights, bias = _operands(layer)
    got = litert_layer(layer, x, weights, bias).output()
    if layer.op == "fully_connected":
        want = ref.fully_connected(layer.layer(), x, weights, bias).value
    else:
        want = ref.conv2d(layer.layer(), x, weights, bias).value
    check_agreement(layer, want.astype(np.float32), got)
    with pytest.raises(HarnessError, match="disagrees with ours"):
        check_agreement(layer, want.astype(np.float32) + 0.5, got)


def test_a_padding_litert_cannot_express_is_left_out() -> None:
    odd = BenchLayer("odd", "conv2d", (9, 9, 4), 4, kernel=(3, 3), padding=(2, 0, 0, 2))
    x, weights, bias = _operands(odd)
    assert layer_file(odd, weights, bias) is None
    with pytest.raises(HarnessError, match="no LiteRT equivalent"):
        litert_layer(odd, x, weights, bias)


def test_goals_follow_the_layer_kind() -> None:
    assert [goal_ratio(layer) for layer in LAYERS] == [1.05, 1.05, 1.05, 1.2, 1.0]
    assert goal_ratio(BenchLayer("first", "conv2d", (32, 32, 3), 16, kernel=(3, 3))) == 1.0

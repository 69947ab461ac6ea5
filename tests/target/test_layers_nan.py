"""One NaN and Inf semantics on every ISA and vector length (docs/RELIABILITY.md, "NaN and Inf"): NaN propagates
through every kind, max-pool and the activations included (as numpy and LiteRT); a softmax row
holding a NaN or +Inf, or only -Inf, is all NaN (as numpy and LiteRT); -Inf gives 0 in softmax
and in relu. The references in tests/reference.py compute in float64 with numpy, which follows
exactly these rules; here the positions of NaN, +Inf and -Inf must match them exactly, in vector
bodies and tails alike, and the finite values as closely as in the other layer tests."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest

from small_harness.runner import layers as L
from small_harness.runner.client import Runner

import reference as R

CHANNELS = 37  # a vector tail on every ISA (4, 8, 16 lanes, and VLA lengths up to 1024 bits)
SPECIALS = (np.nan, np.inf, -np.inf)


def _sprinkled(shape: tuple[int, int, int], seed: int, every: int = 7) -> np.ndarray:
    """Random values with NaN, +Inf and -Inf at scattered positions: first and last channels, and
    inside vectors, of several pixels."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, shape).astype(np.float32)
    flat = x.reshape(-1)
    positions = np.arange(int(seed) % every, flat.size, every)
    flat[positions] = np.resize(np.array(SPECIALS, np.float32), positions.size)
    flat[0] = np.nan
    flat[-1] = np.inf
    return x


def _assert_same_specials(actual: np.ndarray, expected: np.ndarray, what: str) -> None:
    expected = np.asarray(expected, np.float64).reshape(actual.shape)
    for name, test in (("NaN", np.isnan), ("+Inf", np.isposinf), ("-Inf", np.isneginf)):
        wrong = np.argwhere(test(actual) != test(expected))
        assert wrong.size == 0, (f"{what}: {name} differs at {len(wrong)} positions, first {tuple(wrong[0])}: "
                                 f"got {actual[tuple(wrong[0])]}, numpy {expected[tuple(wrong[0])]}")
    finite = np.isfinite(expected)
    np.testing.assert_allclose(actual[finite], expected[finite], rtol=1e-4, atol=1e-5, err_msg=what)


ACTIVATIONS = (("relu", 0.0), ("relu6", 0.0), ("leaky_relu", 0.1))


@pytest.mark.parametrize("activation,alpha", ACTIVATIONS, ids=[a for a, _ in ACTIVATIONS])
def test_activations_keep_nan(runner: Runner, activation: str, alpha: float) -> None:
    layer = L.Activate(activation, alpha)  # type: ignore[arg-type]
    x = _sprinkled((3, 5, CHANNELS), 1)
    _assert_same_specials(runner.run(layer, [x]).output, R.activate(layer, x).value, activation)


@pytest.mark.parametrize("activation,alpha", ACTIVATIONS, ids=[a for a, _ in ACTIVATIONS])
@pytest.mark.parametrize("groups", [1, CHANNELS], ids=["conv", "depthwise"])
def test_conv_with_fused_activation_keeps_nan(runner: Runner, activation: str, alpha: float, groups: int) -> None:
    out = 19 if groups == 1 else CHANNELS
    layer = L.Conv2D(out, (3, 3), padding="same", groups=groups, activation=activation, alpha=alpha)  # type: ignore[arg-type]
    x = _sprinkled((6, 7, CHANNELS), 2, every=61)
    rng = np.random.default_rng(3)
    w = rng.uniform(-1, 1, (out, 3, 3, CHANNELS // groups)).astype(np.float32)
    b = rng.uniform(-1, 1, out).astype(np.float32)
    _assert_same_specials(runner.run(layer, [x], w, b).output, R.conv2d(layer, x, w, b).value, f"{groups=}")


@pytest.mark.parametrize("in_channels", [3, 4])
def test_conv_of_eight_outputs_keeps_specials(runner: Runner, in_channels: int) -> None:
    """MobileNet's first layer (3 -> 8, stride 2): AVX-512 pairs input channels in a vector there, and
    an odd depth's last input takes the even lanes alone; an Inf beside it must not become NaN."""
    layer = L.Conv2D(8, (3, 3), (2, 2), padding="same", activation="relu6")
    x = _sprinkled((7, 29, in_channels), 6, every=23)
    rng = np.random.default_rng(7)
    w = rng.uniform(-1, 1, (8, 3, 3, in_channels)).astype(np.float32)
    b = rng.uniform(-1, 1, 8).astype(np.float32)
    _assert_same_specials(runner.run(layer, [x], w, b).output, R.conv2d(layer, x, w, b).value, f"{in_channels=}")


def test_fully_connected_keeps_nan(runner: Runner) -> None:
    layer = L.FullyConnected(23)
    x = np.random.default_rng(4).uniform(-1, 1, (1, 1, 64)).astype(np.float32)
    x[0, 0, 5] = np.nan
    w = np.random.default_rng(5).uniform(-1, 1, (23, 64)).astype(np.float32)
    expected = R.fully_connected(layer, x, w, None).value
    _assert_same_specials(runner.run(layer, [x], w).output, expected, "fc")


POOLS: dict[str, tuple[L.Layer, Callable[[L.Layer, np.ndarray], object]]] = {
    "maxpool-2x2-s2": (L.MaxPool((2, 2), (2, 2)), R.max_pool),
    "maxpool-3x3-same-relu": (L.MaxPool((3, 3), (1, 1), "same", "relu"), R.max_pool),
    "avgpool-3x3-s2": (L.AvgPool((3, 3), (2, 2)), R.avg_pool),
}


@pytest.mark.parametrize("name", sorted(POOLS))
@pytest.mark.parametrize("seed", [6, 7, 8])
def test_pools_keep_nan_wherever_it_is_in_the_window(runner: Runner, name: str, seed: int) -> None:
    layer, reference = POOLS[name]
    x = _sprinkled((7, 8, CHANNELS), seed, every=11 + seed)
    _assert_same_specials(runner.run(layer, [x]).output, reference(layer, x).value, name)  # type: ignore[attr-defined]


def test_global_average_keeps_nan(runner: Runner) -> None:
    x = _sprinkled((4, 4, CHANNELS), 9, every=29)
    _assert_same_specials(runner.run(L.GlobalAvgPool(), [x]).output, R.global_avg_pool(x).value, "gap")


@pytest.mark.parametrize("activation", ["none", "relu6"])
def test_add_keeps_nan(runner: Runner, activation: str) -> None:
    layer = L.Add(activation)  # type: ignore[arg-type]
    a, b = _sprinkled((3, 4, CHANNELS), 10), _sprinkled((3, 4, CHANNELS), 11)
    _assert_same_specials(runner.run(layer, [a, b]).output, R.add(layer, a, b).value, activation)


def test_softmax_rows_with_nan_or_inf(runner: Runner) -> None:
    rows = np.random.default_rng(12).uniform(-3, 3, (1, 6, CHANNELS)).astype(np.float32)
    rows[0, 0, 3] = np.nan  # a NaN anywhere: the row is NaN
    rows[0, 1, CHANNELS - 1] = np.inf  # +Inf: NaN too (inf - inf)
    rows[0, 2, :] = -np.inf  # nothing but -Inf: NaN (0 / 0)
    rows[0, 3, ::3] = -np.inf  # some -Inf: exactly 0 there, the rest a softmax of the others
    rows[0, 4, 0] = np.float32(3e38)  # huge but finite: a one-hot row
    expected = R.softmax(rows).value
    with np.errstate(invalid="ignore"):
        _assert_same_specials(runner.run(L.Softmax(), [rows]).output, expected, "softmax")
    got = runner.run(L.Softmax(), [rows]).output
    assert (got[0, 3, ::3] == 0).all() and np.isfinite(got[0, 5]).all()

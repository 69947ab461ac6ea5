"""3x3 stride-1 convs through Winograd F(2x2, 3x3) (lib/src/winograd.c, docs/DESIGN.md "Winograd"): on the
tables that offer its transforms (the runner names a conv kernel's Winograd) every such layer of enough channels is
served that way, and checked against the float64 reference within the same bound as a direct conv;
elsewhere, and beyond the rule's limits, the same layers run directly. The sweeps cross every edge a
Winograd walk has: odd output sizes (a tile cut by the edge), padding on any side (a tile's rows and
columns in padding), channel counts around the vector and the kernel's channel block, and tile counts
around the chunk a thread takes and the kernel's pixel tile. Inf and NaN inputs fall back to the direct
conv (test_layers_nan.py checks their positions on such a layer); threads give identical results
(test_threads.py's conv-3x3 is one)."""

from __future__ import annotations

from itertools import cycle

import numpy as np
import pytest

import reference as ref
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo

from test_layers_conv import conv_operands


def _has_winograd(info: RunnerInfo) -> bool:
    return bool(info.kernels["conv"].winograd)


def _check(runner: Runner, info: RunnerInfo, layer: L.Conv2D, shape: tuple[int, int, int], case_id: str,
           magnitude: ref.Magnitude = ref.NORMAL) -> bool:
    """Runs and checks one layer; returns whether Winograd served it."""
    x, weights, bias = conv_operands(case_id, layer, shape, True, magnitude)
    expected = ref.conv2d(layer, x, weights, bias)
    result = runner.run(layer, [x], weights, bias)
    winograd = ref.winograd_serves(layer, shape, info.kernel_for("conv", layer.out_channels))
    ref.assert_kernel(result, info, "conv", layer.out_channels, winograd)
    ref.assert_matches(result.output, expected, case_id)
    return winograd


PADDINGS: tuple[L.Padding, ...] = ("same", "valid", (1, 1, 1, 1), (0, 2, 1, 0), (2, 0, 0, 2), (2, 2, 2, 2))
SIZES = ((2, 2), (3, 5), (4, 7), (5, 4), (7, 9), (9, 13), (1, 6), (6, 1))  # output sizes, odd and even


def _channel_counts(info: RunnerInfo) -> list[tuple[int, int]]:
    block = ref.channel_tile(info.kernels["conv"])
    # a vector of channels: the fixed-width conv tiles hold two (8 at least, the sweep's first choice)
    lanes = max(block // 2, 8)
    return [(16, 16), (17, 16), (16, lanes + 9), (2 * lanes + 1, block + 1), (33, 2 * block + 3), (15, 40), (40, 15)]


def test_every_edge_of_the_tile_grid(runner: Runner, runner_info: RunnerInfo) -> None:
    """Output sizes x paddings, with channel counts and activations cycling along; each served by
    Winograd wherever the rule says so (some deliberately not: 15 channels, a 1-pixel-wide output)."""
    channels, activations = cycle(_channel_counts(runner_info)), cycle(ref.ACTIVATIONS)
    served = 0
    for (out_h, out_w), padding in ((size, padding) for size in SIZES for padding in PADDINGS):
        along_h, along_w = ref.split_padding(padding)
        in_h, in_w = ref.input_extent(out_h, 3, 1, 1, along_h, 0), ref.input_extent(out_w, 3, 1, 1, along_w, 0)
        in_c, out_c = next(channels)
        activation, alpha = next(activations)
        if min(in_h, in_w) < 1:
            continue
        shape = (in_h, in_w, in_c)
        layer = L.Conv2D(out_c, (3, 3), padding=padding, activation=activation, alpha=alpha)
        served += _check(runner, runner_info, layer, shape, f"wino-{out_h}x{out_w}-{padding}-{in_c}-{out_c}")
    assert served > 0 or not _has_winograd(runner_info)


def test_tile_counts_around_the_chunk_and_the_pixel_tile(runner: Runner, runner_info: RunnerInfo) -> None:
    """A chunk (a thread's unit) is a pixel tile of tiles, or, where that makes 2 or 3 chunks, an even
    number of about equal ones, which need not be whole pixel tiles: tile counts around 1, 2, 3 and 4
    pixel tiles, as one row of tiles (the last column cut by the output's edge) and as 3 rows (chunks
    that begin mid-row); 64 channels, more than the workspace holds at the pixel tile on no table."""
    pixels = runner_info.kernels["conv"].pixel_tile
    counts = sorted({n for k in (1, 2, 3, 4) for n in (k * pixels - 1, k * pixels, k * pixels + 1) if n >= 2})
    for tiles_w in counts:
        for tiles_h in (1, 3):
            shape = (2 * tiles_h, 2 * tiles_w - 1, 64)
            layer = L.Conv2D(64, (3, 3), padding="same", activation="relu")
            _check(runner, runner_info, layer, shape, f"wino-tiles-{tiles_h}x{tiles_w}")


def test_magnitudes(runner: Runner, runner_info: RunnerInfo) -> None:
    """Large and tiny operands: the transforms add before they multiply, and must stay finite and
    within bound where the direct conv does."""
    for magnitude in (ref.LARGE, ref.TINY):
        layer = L.Conv2D(24, (3, 3), padding="same")
        _check(runner, runner_info, layer, (5, 6, 20), f"wino-{magnitude.name}", magnitude)


def test_outside_the_rule_runs_directly(runner: Runner, runner_info: RunnerInfo) -> None:
    """Stride 2, dilation 2, groups, 5x5, and channels past the workspace (a chunk under 4 tiles) are
    computed directly, by the conv kernel itself."""
    cases = [
        (L.Conv2D(32, (3, 3), (2, 2), padding="same"), (9, 9, 32)),
        (L.Conv2D(32, (3, 3), dilation=(2, 2), padding="same"), (9, 9, 32)),
        (L.Conv2D(32, (3, 3), padding="same", groups=2), (9, 9, 32)),
        (L.Conv2D(32, (5, 5), padding="same"), (9, 9, 32)),
        (L.Conv2D(200, (3, 3), padding="same"), (4, 4, 200)),
    ]
    for index, (layer, shape) in enumerate(cases):
        assert not ref.winograd_serves(layer, shape, runner_info.kernel_for("conv", layer.out_channels // layer.groups))
        x, weights, bias = conv_operands(f"wino-direct-{index}", layer, shape, True, ref.NORMAL)
        result = runner.run(layer, [x], weights, bias)
        ref.assert_kernel(result, runner_info, "conv", layer.out_channels // layer.groups)
        ref.assert_matches(result.output, ref.conv2d(layer, x, weights, bias), f"wino-direct-{index}")


def test_an_inf_input_gives_inf_as_the_direct_conv_does(runner: Runner, runner_info: RunnerInfo) -> None:
    """A transform subtracts neighbouring inputs, so an Inf would come out NaN where the direct conv
    gives Inf: such a layer is computed directly instead (small_winograd_output reports it)."""
    layer = L.Conv2D(16, (3, 3), padding="same")
    x = np.ones((6, 6, 16), np.float32)
    x[2, 3, 5] = np.inf
    w = np.ones((16, 3, 3, 16), np.float32)
    result = runner.run(layer, [x], w)
    expected = ref.conv2d(layer, x, w, None).value
    assert np.array_equal(np.isposinf(result.output), np.isposinf(expected))
    assert np.isposinf(expected).sum() == 9 * 16 and not np.isnan(result.output).any()
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(result.output[finite], expected[finite])


def test_the_rule_serves_winograd_on_the_tables_that_have_it(runner_info: RunnerInfo) -> None:
    """Not a skip in disguise: on AVX2 and AVX-512 a ResNet-8 3x3 layer is served by Winograd."""
    if not _has_winograd(runner_info):
        pytest.skip(f"{runner_info.kernels['conv'].name} has no Winograd transforms")
    assert ref.winograd_serves(L.Conv2D(16, (3, 3), padding="same"), (32, 32, 16), runner_info.kernels["conv"])

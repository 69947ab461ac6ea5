"""MaxPool, AvgPool and GlobalAvgPool, checked against reference.max_pool / avg_pool /
global_avg_pool: tile edges, window geometry with every padding mode, the count of AvgPool
excluding padding, MaxPool never taking padding for a value, and extreme magnitudes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from itertools import cycle, product
from typing import Literal

import numpy as np
import pytest

import reference as ref
from reference import Edge, Size
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo

PoolOp = Literal["maxpool", "avgpool"]
# uniform: [-10, 10], so relu6 clips; negative: [-10, -1], where a padding zero would win a max;
# ones: every average is exactly 1 whatever the count, unless padding is counted; large / tiny:
# magnitudes near 1e30 and 1e-30.
PoolData = Literal["uniform", "negative", "ones", "large", "tiny"]


@dataclass(frozen=True)
class PoolCase:
    op: PoolOp
    channels: Size
    kernel: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (1, 1)
    padding: L.Padding = "valid"
    out_h: int = 2
    out_w: Size = Edge(1, 1)
    slack: int = 0
    activation: L.Activation = "none"
    alpha: float = 0.0
    data: PoolData = "uniform"

    def __str__(self) -> str:
        text = (f"{self.op}-c{ref.label(self.channels, 'T')}-k{self.kernel[0]}x{self.kernel[1]}-"
                f"s{ref.pair_label(self.stride)}-{ref.padding_label(self.padding)}-h{self.out_h}-"
                f"w{ref.label(self.out_w, 'P')}")
        text += f"-r{self.slack}" if self.slack else ""
        text += f"-{ref.activation_label(self.activation, self.alpha)}"
        return text + ("" if self.data == "uniform" else f"-{self.data}")


def pool_input(rng: np.random.Generator, shape: tuple[int, int, int], data: PoolData) -> np.ndarray:
    if data == "uniform":
        return ref.uniform(rng, shape, 10.0)
    if data == "negative":
        return (-rng.uniform(1.0, 10.0, size=shape)).astype(np.float32)
    if data == "ones":
        return np.ones(shape, dtype=np.float32)
    return ref.banded(rng, shape, 1e30 if data == "large" else 1e-30)


def input_shape(case: PoolCase, info: RunnerInfo) -> tuple[int, int, int] | None:
    kernel = info.kernels[case.op]
    channels = ref.resolve(case.channels, ref.channel_tile(kernel))
    out_w = ref.resolve(case.out_w, kernel.pixel_tile)
    along_h, along_w = ref.split_padding(case.padding)
    in_h = ref.input_extent(case.out_h, case.kernel[0], case.stride[0], 1, along_h, case.slack % case.stride[0])
    in_w = ref.input_extent(out_w, case.kernel[1], case.stride[1], 1, along_w, case.slack % case.stride[1])
    return None if min(channels, out_w, in_h, in_w) < 1 else (in_h, in_w, channels)


def check_pool(runner: Runner, runner_info: RunnerInfo, case: PoolCase) -> None:
    shape = input_shape(case, runner_info)
    if shape is None:
        pytest.skip("a size relative to this build's tiles is below 1")
    x = pool_input(ref.case_rng(str(case)), shape, case.data)
    layer: L.MaxPool | L.AvgPool
    if case.op == "maxpool":
        layer = L.MaxPool(case.kernel, case.stride, case.padding, case.activation, case.alpha)
        expected = ref.max_pool(layer, x)
    else:
        layer = L.AvgPool(case.kernel, case.stride, case.padding, case.activation, case.alpha)
        expected = ref.avg_pool(layer, x)
    pixel_tile = runner_info.kernels[case.op].pixel_tile
    assert expected.value.shape[:2] == (case.out_h, ref.resolve(case.out_w, pixel_tile))  # the case list's promise
    result = runner.run(layer, [x])
    ref.assert_kernel(result, runner_info, case.op)
    ref.assert_matches(result.output, expected, str(case))


OPS: tuple[PoolOp, ...] = ("maxpool", "avgpool")

# --- Tile edges: channels around T against interior widths around P (VALID: no border pixels).
TILE_WIDTHS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1), Edge(1, 1), Edge(2, 1))
TILE_CASES = [PoolCase(op, c, out_w=w) for op, c, w in product(OPS, ref.CHANNEL_EDGES, TILE_WIDTHS)]

# --- Geometry: each window with each padding a pool accepts (explicit padding below the kernel
# size, so every window holds a real pixel), at stride 1 and at stride 2 or 3.
KERNELS = ((1, 1), (2, 2), (3, 3), (5, 5), (1, 3), (3, 1))
PADDINGS: tuple[L.Padding, ...] = ("same", "valid", (1, 1, 1, 1), (0, 2, 1, 0), (1, 0, 0, 1))
STRIDED = ((2, 2), (3, 3), (2, 3), (3, 1))
OUT_WIDTHS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1, 1), Edge(2, 1))
CHANNELS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1, 1), Edge(2, 1), 3)


def pool_padding_allowed(kernel: tuple[int, int], padding: L.Padding) -> bool:
    if isinstance(padding, str):
        return True
    top, bottom, left, right = padding
    return max(top, bottom) < kernel[0] and max(left, right) < kernel[1]


def geometry_cases(op: PoolOp) -> list[PoolCase]:
    cases: list[PoolCase] = []
    channels, out_widths = cycle(CHANNELS), cycle(OUT_WIDTHS)
    out_heights = cycle((1, 2, 3))
    activations, slacks = cycle(ref.ACTIVATIONS), cycle((0, 1, 2))
    combos = [(k, p) for k, p in product(KERNELS, PADDINGS) if pool_padding_allowed(k, p)]
    for index, (kernel, padding) in enumerate(combos):
        for stride in ((1, 1), STRIDED[index % len(STRIDED)]):
            activation, alpha = next(activations)
            case = PoolCase(op, next(channels), kernel, stride, padding, next(out_heights), next(out_widths),
                            next(slacks) % max(stride), activation, alpha)
            # Padding as wide as a small window needs more outputs before the input has a pixel.
            for out_h, out_w in ((case.out_h, case.out_w), (3, Edge(1, 1))):
                if input_shape(replace(case, out_h=out_h, out_w=out_w), ref.nominal_runner_info()) is not None:
                    case = replace(case, out_h=out_h, out_w=out_w)
                    break
            cases.append(case)
    return cases


# --- AvgPool divides by the real pixels only: all-ones inputs average to exactly 1 everywhere.
COUNT_CASES = [
    PoolCase("avgpool", Edge(1, 1), (3, 3), (1, 1), "same", 3, Edge(1, 1), data="ones"),
    PoolCase("avgpool", 3, (3, 3), (2, 2), (1, 1, 1, 1), 3, Edge(1, 1), data="ones"),
    PoolCase("avgpool", Edge(1, -1), (5, 5), (1, 1), (0, 2, 1, 0), 3, Edge(2, 1), data="ones"),
    PoolCase("avgpool", 2, (2, 2), (1, 1), "same", 2, Edge(1, -1), data="ones"),
    PoolCase("avgpool", 1, (5, 5), (3, 3), "same", 2, Edge(1, 1), slack=2, data="ones"),
]

# --- MaxPool over negative inputs: a padding value of 0 would win at every border.
NEGATIVE_CASES = [
    PoolCase("maxpool", Edge(1, 1), (3, 3), (1, 1), "same", 3, Edge(1, 1), data="negative"),
    PoolCase("maxpool", 3, (2, 2), (1, 1), (1, 0, 0, 1), 2, Edge(2, 1), data="negative"),
    PoolCase("maxpool", Edge(1, -1), (5, 5), (2, 2), (1, 1, 1, 1), 2, Edge(1, -1), data="negative"),
    PoolCase("avgpool", Edge(1, 1), (3, 3), (2, 2), "same", 2, Edge(1, 1), data="negative"),
]

MAGNITUDE_CASES = [
    PoolCase("avgpool", Edge(1, 1), (3, 3), (1, 1), "same", 2, Edge(1, 1), data="large"),
    PoolCase("avgpool", Edge(1, 1), (5, 5), (2, 2), "same", 2, Edge(1, 1), data="tiny"),
    PoolCase("maxpool", Edge(1, 1), (3, 3), (2, 2), "same", 2, Edge(1, 1), activation="leaky_relu", alpha=0.1,
             data="large"),
    PoolCase("maxpool", Edge(1, 1), (3, 3), (1, 1), (1, 1, 1, 1), 2, Edge(1, 1), data="tiny"),
]


# Taller than wide and narrower than a pixel tile: the nest walks these by columns.
TALL_NARROW_CASES = [
    PoolCase("maxpool", 5, (3, 2), (2, 1), "same", 9, 1, data="negative"),
    PoolCase("avgpool", 5, (2, 3), (1, 2), (1, 0, 1, 1), 11, 1),
    PoolCase("avgpool", Edge(1, 1), (3, 3), (1, 1), "same", 13, 1),
]


@pytest.mark.parametrize("case", TILE_CASES, ids=str)
def test_pool_tiles(runner: Runner, runner_info: RunnerInfo, case: PoolCase) -> None:
    check_pool(runner, runner_info, case)


@pytest.mark.parametrize("case", geometry_cases("maxpool") + geometry_cases("avgpool"), ids=str)
def test_pool_geometry(runner: Runner, runner_info: RunnerInfo, case: PoolCase) -> None:
    check_pool(runner, runner_info, case)


@pytest.mark.parametrize("case", COUNT_CASES + NEGATIVE_CASES + MAGNITUDE_CASES + TALL_NARROW_CASES, ids=str)
def test_pool_padding_and_magnitudes(runner: Runner, runner_info: RunnerInfo, case: PoolCase) -> None:
    check_pool(runner, runner_info, case)


# --- Global average pooling: one window the size of the input, one output pixel.
@dataclass(frozen=True)
class GlobalCase:
    hw: tuple[int, int]
    channels: Size
    data: PoolData = "uniform"

    def __str__(self) -> str:
        text = f"gavgpool-c{ref.label(self.channels, 'T')}-h{self.hw[0]}-w{self.hw[1]}"
        return text + ("" if self.data == "uniform" else f"-{self.data}")


GLOBAL_SHAPES = ((1, 1), (3, 5), (12, 12), (7, 1), (1, 9), (4, 6))
GLOBAL_CASES = (
    [GlobalCase(hw, c) for hw, c in zip(GLOBAL_SHAPES, cycle(ref.CHANNEL_EDGES))]
    + [GlobalCase((3, 5), c) for c in ref.CHANNEL_EDGES if c != 2]
    + [GlobalCase((5, 7), Edge(1, 1), "large"), GlobalCase((5, 7), Edge(1, 1), "tiny")]
)


@pytest.mark.parametrize("case", GLOBAL_CASES, ids=str)
def test_global_avg_pool(runner: Runner, runner_info: RunnerInfo, case: GlobalCase) -> None:
    channels = ref.resolve(case.channels, ref.channel_tile(runner_info.kernels["avgpool"]))
    if channels < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    x = pool_input(ref.case_rng(str(case)), (*case.hw, channels), case.data)
    result = runner.run(L.GlobalAvgPool(), [x])
    ref.assert_kernel(result, runner_info, "avgpool")
    ref.assert_matches(result.output, ref.global_avg_pool(x), str(case))

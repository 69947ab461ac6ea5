"""Conv2D, checked against reference.conv2d: the tile edges of the conv and dwconv kernels, every
window geometry (kernel, stride, dilation, padding), groups, activations, bias and extreme magnitudes.

Channel counts and output widths are written relative to the serving kernel's tiles (T channels, P
pixels, from runner_info), so the same case list sweeps the edges of whatever kernel a build has.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from itertools import cycle, product
from typing import Any, Literal

import numpy as np
import pytest

import reference as ref
from reference import Edge, Size
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo


@dataclass(frozen=True)
class ConvCase:
    in_channels: Size
    out_channels: Size = 1  # ignored with groups "dw", where it is in_channels * multiplier
    groups: int | Literal["dw"] = 1  # "dw": one group per input channel
    multiplier: int = 1
    kernel: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: L.Padding = "valid"
    out_h: int = 2
    out_w: Size = Edge(1, 1)
    slack: int = 0  # see reference.input_extent (taken modulo each axis' stride)
    activation: L.Activation = "none"
    alpha: float = 0.0
    bias: bool = True
    magnitude: ref.Magnitude = ref.NORMAL

    @property
    def depthwise(self) -> bool:
        return self.groups == "dw" and self.multiplier == 1

    def __str__(self) -> str:
        if self.depthwise:
            head = f"dwconv-c{ref.label(self.in_channels, 'T')}"
        elif self.groups == "dw":
            head = f"conv-c{ref.label(self.in_channels, 'T')}-m{self.multiplier}-gdw"
        else:
            head = f"conv-c{ref.label(self.in_channels, 'T')}-o{ref.label(self.out_channels, 'T')}-g{self.groups}"
        text = (f"{head}-k{self.kernel[0]}x{self.kernel[1]}-s{ref.pair_label(self.stride)}-"
                f"{ref.padding_label(self.padding)}-d{ref.pair_label(self.dilation)}-"
                f"h{self.out_h}-w{ref.label(self.out_w, 'P')}")
        text += f"-r{self.slack}" if self.slack else ""
        text += f"-{ref.activation_label(self.activation, self.alpha)}"
        text += "" if self.bias else "-nobias"
        return text + ("" if self.magnitude is ref.NORMAL else f"-{self.magnitude.name}")


@dataclass(frozen=True)
class ResolvedConv:
    layer: L.Conv2D
    input_shape: tuple[int, int, int]
    out_w: int
    kind: str  # the kernel kind that must serve it


def resolve_case(case: ConvCase, info: RunnerInfo) -> ResolvedConv | None:
    """Concrete sizes for this build's tiles; None when the case degenerates (a size below 1)."""
    kernel = info.kernels["dwconv" if case.depthwise else "conv"]
    tile = ref.channel_tile(kernel)
    in_channels = ref.resolve(case.in_channels, tile)
    if case.groups == "dw":
        groups, out_channels = in_channels, in_channels * case.multiplier
    else:
        groups, out_channels = case.groups, ref.resolve(case.out_channels, tile)
    out_w = ref.resolve(case.out_w, kernel.pixel_tile)
    along_h, along_w = ref.split_padding(case.padding)
    in_h = ref.input_extent(case.out_h, case.kernel[0], case.stride[0], case.dilation[0], along_h,
                            case.slack % case.stride[0])
    in_w = ref.input_extent(out_w, case.kernel[1], case.stride[1], case.dilation[1], along_w,
                            case.slack % case.stride[1])
    if min(in_channels, out_channels, out_w, in_h, in_w) < 1:
        return None
    layer = L.Conv2D(out_channels, case.kernel, case.stride, case.dilation, case.padding, groups,
                     case.activation, case.alpha)
    # The API's rules, on the resolved numbers (a 1x1 output of a window over the whole input is fc).
    kind = ref.conv_kind(layer, (in_h, in_w, in_channels))
    return ResolvedConv(layer, (in_h, in_w, in_channels), out_w, kind)


def conv_operands(case_id: str, layer: L.Conv2D, input_shape: tuple[int, int, int], with_bias: bool,
                  magnitude: ref.Magnitude) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    rng = ref.case_rng(case_id)
    depth = input_shape[2] // layer.groups
    terms = layer.kernel[0] * layer.kernel[1] * depth
    weight_shape = (layer.out_channels, *layer.kernel, depth)
    if magnitude is ref.NORMAL:
        # Inputs in [-s, s] and weights in [-1, 1] give pre-activations of standard deviation
        # sqrt(terms) * s / 3 = 6: both signs for relu and leaky, and a good share above relu6's 6.
        x = ref.uniform(rng, input_shape, 18.0 / math.sqrt(terms))
        weights = ref.uniform(rng, weight_shape, 1.0)
        bias = ref.uniform(rng, (layer.out_channels,), 3.0)
    else:
        x = ref.banded(rng, input_shape, magnitude.input_scale)
        weights = ref.banded(rng, weight_shape, magnitude.weight_scale)
        bias = ref.banded(rng, (layer.out_channels,), magnitude.input_scale * magnitude.weight_scale)
    return x, weights, bias if with_bias else None


def check_conv(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    resolved = resolve_case(case, runner_info)
    if resolved is None:
        pytest.skip("a size relative to this build's tiles is below 1")
    x, weights, bias = conv_operands(str(case), resolved.layer, resolved.input_shape, case.bias, case.magnitude)
    expected = ref.conv2d(resolved.layer, x, weights, bias)
    # The case list promises these output sizes: a wrong input_extent would silently test less.
    assert expected.value.shape[:2] == (case.out_h, resolved.out_w)
    result = runner.run(resolved.layer, [x], weights, bias)
    channels = resolved.layer.out_channels // resolved.layer.groups if resolved.kind == "conv" else None
    winograd = channels is not None and ref.winograd_serves(resolved.layer, resolved.input_shape,
                                                            runner_info.kernel_for("conv", channels))
    ref.assert_kernel(result, runner_info, resolved.kind, channels, winograd)
    ref.assert_matches(result.output, expected, str(case))


def _conv(in_channels: Size, out_channels: Size, **fields: Any) -> ConvCase:
    return ConvCase(in_channels, out_channels, **fields)


def _dw(channels: Size, multiplier: int = 1, **fields: Any) -> ConvCase:
    return ConvCase(channels, groups="dw", multiplier=multiplier, **fields)


# --- Tile edges: every output-channel count around the channel tile against every output width
# around the pixel tile. VALID padding keeps all pixels in the interior, where the nest hands the
# kernel up to P pixels per call, so the widths are exactly the kernel's pixel counts.
TILE_CASES = [_conv(3, c, out_w=w) for c, w in product(ref.CHANNEL_EDGES, ref.PIXEL_EDGES)]
DW_TILE_CASES = [_dw(c, out_w=w) for c, w in product(ref.CHANNEL_EDGES, ref.PIXEL_EDGES)]

# --- Reduction depth (input channels) around the tile, for kernels that unroll or vectorise it.
DEPTH_CASES = [_conv(c, Edge(1, 1), padding="same", out_h=3) for c in (*ref.CHANNEL_EDGES, Edge(4, 1))]

# --- Window geometry: each kernel shape with each padding mode, at stride 1, at stride 2 or 3 and
# dilated; channel counts, sizes, activation, bias and input slack cycle along the list so that
# each combination meets several of them.
KERNELS = ((1, 1), (3, 3), (5, 5), (10, 4), (1, 3), (3, 1))
PADDINGS: tuple[L.Padding, ...] = ("same", "valid", (1, 1, 1, 1), (0, 2, 1, 0))
STRIDED = ((2, 2), (3, 3), (2, 3), (3, 1))
DILATED = (((1, 1), (2, 2)), ((2, 2), (2, 2)), ((1, 3), (1, 2)))  # (stride, dilation)
OUT_WIDTHS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1, 1), Edge(2, 1))
CONV_CHANNELS: tuple[tuple[Size, Size], ...] = ((3, Edge(1, 1)), (Edge(1, -1), 2), (1, Edge(1)), (5, Edge(2, 1)),
                                                (Edge(1, 1), 3))
DW_CHANNELS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1, 1), Edge(2, 1), 3)


def feasible(case: ConvCase) -> bool:
    """Whether the case has an input of at least one pixel with the portable kernels' tiles."""
    return resolve_case(case, ref.nominal_runner_info()) is not None


def geometry_cases(depthwise: bool) -> list[ConvCase]:
    cases: list[ConvCase] = []
    templates = cycle([_dw(c) for c in DW_CHANNELS] if depthwise else [_conv(i, o) for i, o in CONV_CHANNELS])
    out_heights, out_widths = cycle((1, 2, 3)), cycle(OUT_WIDTHS)
    activations, biases, slacks = cycle(ref.ACTIVATIONS), cycle((True, True, True, False)), cycle((0, 1, 2))
    for index, (kernel, padding) in enumerate(product(KERNELS, PADDINGS)):
        variants = [((1, 1), (1, 1)), (STRIDED[index % len(STRIDED)], (1, 1)), DILATED[index % len(DILATED)]]
        for stride, dilation in variants:
            activation, alpha = next(activations)
            case = replace(next(templates), kernel=kernel, stride=stride, dilation=dilation, padding=padding,
                           out_h=next(out_heights), out_w=next(out_widths), slack=next(slacks) % max(stride),
                           activation=activation, alpha=alpha, bias=next(biases))
            # Padding wider than a small window needs more outputs before the input has a pixel.
            for out_h, out_w in ((case.out_h, case.out_w), (3, Edge(1, 1)), (5, Edge(2, 1))):
                if feasible(replace(case, out_h=out_h, out_w=out_w)):
                    case = replace(case, out_h=out_h, out_w=out_w)
                    break
            cases.append(case)
    return cases


# --- Groups: 2, a middle count, pointwise grouped, depthwise, depthwise with multiplier 2 and 3.
GROUP_CASES = [
    _conv(6, Edge(2, 2), groups=2, padding="same", out_h=3),  # per group: depth 3, T+1 outputs
    _conv(Edge(2, 2), 4, groups=2, stride=(2, 2), padding="same", out_w=Edge(2, 1), activation="relu"),
    _conv(9, Edge(3, -3), groups=3, padding=(1, 1, 1, 1), out_w=Edge(1, -1), activation="relu6"),
    _conv(12, 12, groups=4, kernel=(1, 1), out_w=Edge(2, 1), bias=False),  # 3 in, 3 out per group
    _conv(10, 5, groups=5, kernel=(3, 1), stride=(1, 2), padding="same"),  # 2 in, 1 out per group
    _dw(Edge(1, -1), 2, padding="same", out_h=3),
    _dw(Edge(1, 1), 2, stride=(2, 2), padding="same", out_w=Edge(2, 1), activation="leaky_relu", alpha=0.1),
    _dw(3, 3, kernel=(5, 5), padding=(0, 2, 1, 0), dilation=(2, 1)),
    _dw(1, 2, padding="same"),
    _dw(Edge(2, 1), kernel=(5, 5), stride=(2, 2), padding="same", out_h=3, out_w=Edge(2, -1)),
]

# --- Explicit padding wider than the dilated window's reach: some windows lie entirely in padding,
# get zero taps, and must yield the epilogue of the bias alone (of zero without bias).
PADDING_ONLY_CASES = [
    _conv(3, Edge(1, 1), dilation=(2, 2), padding=(6, 5, 6, 5), out_h=8, out_w=Edge(2, 1),
          activation="leaky_relu", alpha=0.1),
    _dw(Edge(1, 1), dilation=(2, 2), padding=(6, 5, 6, 5), out_h=8, out_w=Edge(2, 1), activation="relu6"),
    _conv(2, 3, stride=(2, 2), dilation=(2, 2), padding=(5, 5, 5, 5), out_h=4, out_w=Edge(1, 1), bias=False),
    _dw(Edge(1, -1), kernel=(5, 5), dilation=(2, 2), padding=(9, 0, 9, 0), out_h=3, out_w=Edge(1, 1)),
    _conv(Edge(1, 1), Edge(1, -1), kernel=(1, 1), padding=(2, 2, 2, 2), out_h=5, out_w=Edge(2, 1)),
]

# --- Every fused activation, with and without bias.
ACTIVATION_CASES = [
    replace(template, activation=activation, alpha=alpha, bias=bias)
    for template in (_conv(5, Edge(1, 1), padding="same", out_h=3), _dw(Edge(1, 1), padding="same", out_h=3))
    for (activation, alpha), bias in product(ref.ACTIVATIONS, (True, False))
]

# --- Magnitudes far from 1: products ~1e30 (sums stay finite) and ~1e-20 (stay normal).
MAGNITUDE_CASES = [
    _conv(5, Edge(1, 1), padding="same", magnitude=ref.LARGE),
    _conv(5, Edge(1, 1), padding="same", activation="leaky_relu", alpha=-0.5, magnitude=ref.TINY),
    _dw(Edge(1, 1), padding="same", activation="relu", magnitude=ref.LARGE),
    _dw(Edge(1, 1), padding="same", activation="leaky_relu", alpha=2.5, magnitude=ref.TINY),
    _conv(6, 4, groups=2, kernel=(10, 4), padding="same", magnitude=ref.LARGE),
    _dw(3, 2, kernel=(5, 5), dilation=(2, 2), padding="same", magnitude=ref.TINY),
]


def _unique(cases: list[ConvCase]) -> list[ConvCase]:
    """One case per id (the lists overlap a little), in order."""
    return list({str(case): case for case in cases}.values())


@pytest.mark.parametrize("case", _unique(TILE_CASES + DEPTH_CASES), ids=str)
def test_conv_tiles(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    check_conv(runner, runner_info, case)


@pytest.mark.parametrize("case", _unique(DW_TILE_CASES), ids=str)
def test_dwconv_tiles(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    check_conv(runner, runner_info, case)


@pytest.mark.parametrize("case", _unique(geometry_cases(depthwise=False)), ids=str)
def test_conv_geometry(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    check_conv(runner, runner_info, case)


@pytest.mark.parametrize("case", _unique(geometry_cases(depthwise=True)), ids=str)
def test_dwconv_geometry(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    check_conv(runner, runner_info, case)


@pytest.mark.parametrize("case", _unique(GROUP_CASES + PADDING_ONLY_CASES), ids=str)
def test_conv_groups_and_padding_only_windows(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    check_conv(runner, runner_info, case)


@pytest.mark.parametrize("case", _unique(ACTIVATION_CASES + MAGNITUDE_CASES), ids=str)
def test_conv_epilogue_and_magnitudes(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    check_conv(runner, runner_info, case)


def test_conv_every_pixel_count_of_every_variant(runner: Runner, runner_info: RunnerInfo) -> None:
    """Every tile of pixels a conv kernel can get, 1 to P and past it (each count is a body of its own),
    for each variant of the kind (RVV's register groups): at channel counts the library gives that
    variant (a whole block, three, one short of a block), each checked against the reference and
    served by the kernel the rule names."""
    for kernel in runner_info.variants("conv"):
        tile = ref.channel_tile(kernel)
        for channels in sorted({tile, 3 * tile, max(1, tile - 1)}):
            for out_w in range(1, 2 * kernel.pixel_tile + 2):
                layer = L.Conv2D(channels, (3, 3), activation="relu")
                case_id = f"conv-variant-{kernel.name}-o{channels}-w{out_w}"
                x, weights, bias = conv_operands(case_id, layer, (4, out_w + 2, 5), True, ref.NORMAL)
                result = runner.run(layer, [x], weights, bias)
                ref.assert_kernel(result, runner_info, "conv", channels)
                ref.assert_matches(result.output, ref.conv2d(layer, x, weights, bias), case_id)


def test_depthwise_of_few_channels_at_every_pixel_count(runner: Runner, runner_info: RunnerInfo) -> None:
    """Depthwise of 1 to 8 channels, stride 1, padded, at every output width from 1 to 2P + 1: a
    kernel may take such a tile as one run of pixels x channels floats, several pixels per vector
    (AVX-512 with 8 or 4 channels), where every pixel count leaves a different part vector; with
    dilation 2 and stride 2, which it must not take that way."""
    kernel = runner_info.kernels["dwconv"]
    for channels, stride, dilation in [(8, 1, 1), (4, 1, 1), (2, 1, 1), (1, 1, 1), (8, 1, 2), (8, 2, 1)]:
        for out_w in range(1, 2 * kernel.pixel_tile + 2):
            layer = L.Conv2D(channels, (3, 3), (stride, stride), (dilation, dilation), "same", channels, "relu6")
            case_id = f"dwconv-few-c{channels}-s{stride}-d{dilation}-w{out_w}"
            x, weights, bias = conv_operands(case_id, layer, (3, out_w * stride, channels), True, ref.NORMAL)
            result = runner.run(layer, [x], weights, bias)
            ref.assert_kernel(result, runner_info, "dwconv", None)
            ref.assert_matches(result.output, ref.conv2d(layer, x, weights, bias), case_id)


def test_conv_of_half_a_vector_of_outputs_at_every_pixel_count(runner: Runner, runner_info: RunnerInfo) -> None:
    """Conv of 8 and 4 outputs at every output width from 1 to 2P + 1: a kernel may hold two input
    channels' weights in a vector of twice the outputs (AVX-512 with 8: MobileNet's first layer), which
    pairs of inputs and part tiles must not upset: odd and even depths, a window row reduced as one run
    (3 inputs at stride 2) or tap by tap (dilation 2), 1x1."""
    kernel = runner_info.kernels["conv"]
    for in_c, out_c, size, stride, dilation in [(3, 8, 3, 2, 1), (4, 8, 3, 1, 1), (1, 8, 3, 1, 2), (5, 8, 1, 1, 1),
                                                (3, 4, 3, 1, 1)]:
        for out_w in range(1, 2 * kernel.pixel_tile + 2):
            layer = L.Conv2D(out_c, (size, size), (stride, stride), (dilation, dilation), "same", 1, "relu6")
            case_id = f"conv-half-c{in_c}-o{out_c}-k{size}-s{stride}-d{dilation}-w{out_w}"
            x, weights, bias = conv_operands(case_id, layer, (3, out_w * stride, in_c), True, ref.NORMAL)
            result = runner.run(layer, [x], weights, bias)
            ref.assert_kernel(result, runner_info, "conv", out_c)  # RVV: the register group for out_c
            ref.assert_matches(result.output, ref.conv2d(layer, x, weights, bias), case_id)


def test_conv_of_few_outputs_in_pixel_groups(runner: Runner, runner_info: RunnerInfo) -> None:
    """A conv of c outputs, at most half the widest conv's channel tile T, whose reduction does not fill
    T / c groups (3 inputs, a row of 9): a kernel may hold g = T / c pixels per vector instead (SVE at
    1024 and 2048 bits: ResNet-8's first layer). The widths sweep its edges (1, g - 1 to g + 1, and
    around a tile of P vectors, P g pixels); a second channel block, groups and stride 2 store a pixel
    at a time into a wider output. On narrow vectors the same layers run the ordinary tiles."""
    kernel = runner_info.variants("conv")[0]
    tile, pixels = ref.channel_tile(kernel), kernel.pixel_tile
    # (inputs, outputs, groups, stride): outputs per group c, up to half the tile, and past a block.
    shapes = [(3, max(1, tile // 2), 1, 1), (3, max(1, tile // 4), 1, 2), (6, 2 * max(1, tile // 4), 2, 1),
              (3, tile + max(1, tile // 4), 1, 1)]
    for in_c, out_c, groups, stride in shapes:
        per_group = out_c // groups if out_c <= tile else out_c - tile
        g = max(1, tile // per_group)
        widths = sorted({w for w in (1, g - 1, g, g + 1, pixels * g - 1, pixels * g, pixels * g + 1,
                                     pixels * g + g + 1) if 0 < w <= 2 * pixels * g + 1})
        for out_w in widths:
            layer = L.Conv2D(out_c, (3, 3), (stride, stride), padding="same", groups=groups, activation="relu")
            case_id = f"conv-pixel-groups-c{in_c}-o{out_c}-g{groups}-s{stride}-w{out_w}"
            x, weights, bias = conv_operands(case_id, layer, (3, out_w * stride, in_c), True, ref.NORMAL)
            result = runner.run(layer, [x], weights, bias)
            ref.assert_matches(result.output, ref.conv2d(layer, x, weights, bias), case_id)


# Outputs taller than wide and narrower than a pixel tile, which the nest walks by columns (KWS's
# 25 x 5; at most 2 wide, narrower than any pixel tile (MVE: conv 3, depthwise 2)): asymmetric windows, strides, dilations and paddings, so that a swapped axis shows.
TALL_NARROW: tuple[tuple[str, L.Conv2D, tuple[int, int, int]], ...] = (
    ("kws-first", L.Conv2D(24, (10, 4), (2, 2), padding="same", activation="relu"), (29, 4, 1)),
    ("conv-5x2-s1x2-d2x1", L.Conv2D(9, (5, 2), (1, 2), (2, 1), padding=(3, 1, 1, 0)), (23, 3, 5)),
    ("conv-3x3-groups", L.Conv2D(12, (3, 3), padding="same", groups=3), (19, 2, 6)),
    ("conv-1x3-valid", L.Conv2D(7, (1, 3), activation="relu6"), (17, 4, 3)),
    ("dwconv-3x3-same", L.Conv2D(37, (3, 3), padding="same", groups=37, activation="relu"), (25, 1, 37)),
    ("dwconv-4x2-s2x1-d1x2", L.Conv2D(8, (4, 2), (2, 1), (1, 2), padding="same", groups=8), (31, 1, 8)),
    ("dwconv-3x3-valid-c8", L.Conv2D(8, (3, 3), groups=8), (16, 3, 8)),
)


@pytest.mark.parametrize("name", [name for name, _, _ in TALL_NARROW])
def test_tall_narrow_outputs(runner: Runner, runner_info: RunnerInfo, name: str) -> None:
    _, layer, shape = next(case for case in TALL_NARROW if case[0] == name)
    x, weights, bias = conv_operands(f"tall-{name}", layer, shape, True, ref.NORMAL)
    expected = ref.conv2d(layer, x, weights, bias)
    out_h, out_w = expected.value.shape[:2]
    assert out_h > out_w and out_w < runner_info.kernels[ref.conv_kind(layer, shape)].pixel_tile, "not tall and narrow"
    result = runner.run(layer, [x], weights, bias)
    ref.assert_matches(result.output, expected, name)


def test_padding_only_windows_exist() -> None:
    """The padding-only cases really have windows without a single real tap (reference tiles)."""
    for case in PADDING_ONLY_CASES:
        resolved = resolve_case(case, ref.nominal_runner_info())
        assert resolved is not None, case
        layer = resolved.layer
        ones = np.ones(resolved.input_shape, dtype=np.float32)
        depth = resolved.input_shape[2] // layer.groups
        weights = np.ones((layer.out_channels, *layer.kernel, depth), dtype=np.float32)
        reached = ref.conv2d(replace(layer, activation="none"), ones, weights, None).value
        assert (reached == 0).any(), f"{case}: every window reaches the input"

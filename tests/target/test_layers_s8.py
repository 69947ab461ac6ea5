"""int8 CONV2D (grouped and depthwise) and FULLY_CONNECTED, checked bit for bit against
tests/reference_int8.py (the exact model of LiteRT's reference kernels), and served by the int8 kinds
(s8_conv, s8_dwconv, s8_fc) of the one loop nest. Sizes are relative to the tiles the runner reports
for those kinds (P pixels, T channels), so that every edge is met on every build: output widths around
one and two pixel tiles, channels around one and two channel tiles; padding (same, explicit, a window
entirely in padding), strides, dilation, groups, a tall and narrow output (the transposed walk), a 1x1
layer (the flattened walk); per-channel weight scales over twelve decades (multipliers that flush to
zero, shift right by up to 31, or shift left), zero points at -128 and 127, every int8 activation, and
biases that wrap the int32 sum."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

import reference as ref
import reference_int8 as q8
from reference import Edge, Size
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo, SmallError
from small_harness.runner.protocol import Quantization

Scales = str  # "narrow": per channel within 2x; "wide": over twelve decades; "tensor": one for all


@dataclass(frozen=True)
class ConvCase:
    out_hw: tuple[Size, int]        # output width relative to P, output height
    channels: Size                  # input channels (relative to T)
    out_channels: Size              # relative to T; "dw" cases: = channels
    kernel: tuple[int, int] = (3, 3)
    stride: tuple[int, int] = (1, 1)
    dilation: tuple[int, int] = (1, 1)
    padding: L.Padding = "same"
    groups: Size = 1                # Edge(...) or an int; depthwise: groups == channels == out_channels
    activation: L.Activation = "none"
    zeros: tuple[int, int] = (3, -5)  # input, output zero points
    scales: Scales = "narrow"
    bias: str = "normal"             # normal, none, wrap (near the int32 limits: the sum wraps)

    def __str__(self) -> str:
        pad = self.padding if isinstance(self.padding, str) else "p" + "-".join(map(str, self.padding))
        return (f"conv-w{ref.label(self.out_hw[0], 'P')}-h{self.out_hw[1]}-c{ref.label(self.channels, 'T')}-"
                f"o{ref.label(self.out_channels, 'T')}-g{ref.label(self.groups, 'T')}-k{self.kernel[0]}x{self.kernel[1]}-"
                f"s{self.stride[0]}x{self.stride[1]}-d{self.dilation[0]}x{self.dilation[1]}-{pad}-{self.activation}-"
                f"z{self.zeros[0]}_{self.zeros[1]}-{self.scales}-b{self.bias}")


def quantization(rng: np.random.Generator, scales: Scales, out_channels: int, depth: int) -> Quantization:
    """Scales that put most outputs inside int8 (the sum of depth products of about 74 x 74 has a spread
    of 74^2 sqrt(depth)), X."""
    input_scale = float(np.float32(rng.uniform(0.01, 0.1)))
    weight = {"narrow": rng.uniform(0.5, 1.0, out_channels), "tensor": rng.uniform(0.5, 1.0, 1),
              "wide": 10.0 ** rng.uniform(-9.0, 3.0, out_channels)}[scales] * 0.02
    output_scale = float(np.float32(input_scale * 0.02 * 74.0 * 74.0 * math.sqrt(depth) / 40.0))
    return Quantization(input_scale, 0, output_scale, 0, tuple(float(s) for s in np.float32(weight)))


def operands(case_id: str, shape: tuple[int, int, int], weight_shape: tuple[int, ...], out_channels: int,
             depth: int, scales: Scales, zeros: tuple[int, int], bias: str):
    rng = ref.case_rng(case_id)
    x = rng.integers(-128, 128, shape, dtype=np.int64).astype(np.int8)
    w = rng.integers(-127, 128, weight_shape, dtype=np.int64).astype(np.int8)
    b = {"normal": rng.integers(-20000, 20000, out_channels),
         "wrap": rng.choice([-(1 << 31), (1 << 31) - 1], out_channels) - rng.integers(-3000, 3000, out_channels),
         "none": None}[bias]
    b = None if b is None else np.clip(b, -(1 << 31), (1 << 31) - 1).astype(np.int32)
    quant = quantization(rng, scales, out_channels, depth)
    quant = Quantization(quant.input_scale, zeros[0], quant.output_scale, zeros[1], quant.weight_scales)
    return x, w, b, quant


def assert_identical(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.shape == want.shape, (what, got.shape, want.shape)
    wrong = np.argwhere(got != want)
    assert wrong.size == 0, (f"{what}: {len(wrong)} of {want.size} outputs differ, first at {tuple(wrong[0])}: "
                             f"{int(got[tuple(wrong[0])])} != {int(want[tuple(wrong[0])])}")


def conv_reference(case_layer: L.Conv2D, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, quant: Quantization,
                   depthwise: bool) -> np.ndarray:
    common = dict(stride=case_layer.stride, dilation=case_layer.dilation, padding=case_layer.padding,
                  activation=case_layer.activation)
    qin, qout = q8.Quant(quant.input_scale, quant.input_zero_point), q8.Quant(quant.output_scale, quant.output_zero_point)
    if depthwise:  # TFLite's depthwise weights are 1 x KH x KW x C
        return q8.depthwise_conv2d(x, w.transpose(3, 1, 2, 0), b, qin, quant.weight_scales, qout, **common)
    return q8.conv2d(x, w, b, qin, quant.weight_scales, qout, **common)


# --- conv: output widths around P with 3x3 same padding, channels in and out around T
GEOMETRY = [ConvCase((w, 3), c, o) for w in ref.PIXEL_EDGES for c, o in ((Edge(1, 1), Edge(1, -1)), (3, Edge(2, 1)))]
GEOMETRY += [ConvCase((Edge(1, 1), 2), 5, o) for o in ref.CHANNEL_EDGES]
WINDOWS = [
    ConvCase((Edge(1, 1), 3), 4, Edge(1, 1), (3, 3), (2, 2)),
    ConvCase((Edge(2, 1), 2), 3, Edge(1), (5, 3), (2, 1), padding="valid"),
    ConvCase((Edge(1, 1), 4), 3, Edge(1, -1), (3, 3), dilation=(2, 2)),
    ConvCase((Edge(1), 3), 2, 5, (3, 2), (1, 2), (1, 3), padding=(1, 2, 2, 0)),
    ConvCase((Edge(1, 1), 3), 3, Edge(1, 1), (3, 3), dilation=(3, 3), padding=(4, 4, 4, 4)),  # windows in padding
    ConvCase((Edge(2, 1), 1), 4, 6, (1, 1), padding="valid"),  # 1x1: a row, flattened
    ConvCase((Edge(4), 4), 5, Edge(1, 1), (1, 1), padding="valid"),  # 1x1 flattened over rows
    ConvCase((3, 9), 3, Edge(1, 1), (3, 3)),  # tall and narrow: the transposed walk
    ConvCase((1, 1), 5, Edge(1, 1), (3, 3), padding="valid"),  # one window over the whole input: still conv
]
GROUPS = [
    ConvCase((Edge(1, 1), 3), 8, 12, groups=4),
    ConvCase((Edge(1, 1), 2), Edge(2), Edge(2), groups=2),
    ConvCase((Edge(1), 3), 4, 8, groups=4, stride=(2, 2)),  # depth multiplier 2: a grouped conv
]
EPILOGUES = [ConvCase((Edge(1, 1), 2), 5, Edge(1, 1), activation=a, zeros=z)
             for a in ("none", "relu", "relu6", "relu_n1_to_1") for z in ((-128, 127), (127, -128), (0, 0))]
QUANTS = [ConvCase((Edge(1, 1), 3), 6, Edge(2, 1), scales=s, bias=b)
          for s in ("wide", "tensor") for b in ("normal", "none", "wrap")]
QUANTS += [ConvCase((Edge(1, 1), 3), 6, Edge(2, 1), padding=(2, 1, 0, 3), scales="wide", zeros=(-128, 127),
                    activation="relu6", bias="wrap")]
CONV_CASES = list({str(c): c for c in GEOMETRY + WINDOWS + GROUPS + EPILOGUES + QUANTS}.values())

# --- depthwise: widths around P, channels around T, and the border columns of the channelwise walk
DEPTHWISE = [ConvCase((w, 3), c, c, groups=c) for w in ref.PIXEL_EDGES for c in (Edge(1, 1), 3)]
DEPTHWISE += [ConvCase((Edge(1, 1), 3), c, c, groups=c) for c in ref.CHANNEL_EDGES]
DEPTHWISE += [
    ConvCase((Edge(2, 1), 5), Edge(1, 1), Edge(1, 1), (3, 3), (2, 2), groups=Edge(1, 1)),
    ConvCase((Edge(1, 1), 4), 5, 5, (3, 3), dilation=(2, 2), groups=5, padding=(2, 2, 2, 2)),
    ConvCase((Edge(1), 3), 4, 4, (5, 5), groups=4, padding=(1, 3, 2, 0)),
    ConvCase((3, 9), 6, 6, (3, 3), groups=6),  # tall and narrow
    ConvCase((Edge(1, 1), 3), 3, 3, (3, 3), dilation=(3, 3), padding=(4, 4, 4, 4), groups=3),  # windows in padding
    ConvCase((Edge(1, 1), 3), Edge(1, 1), Edge(1, 1), groups=Edge(1, 1), activation="relu6", zeros=(-128, 127),
             scales="wide", bias="wrap"),
    ConvCase((Edge(1, 1), 3), Edge(1, 1), Edge(1, 1), groups=Edge(1, 1), activation="relu_n1_to_1",
             zeros=(127, -128), scales="tensor", bias="none"),
]
DEPTHWISE_CASES = list({str(c): c for c in DEPTHWISE}.values())


def run_conv_case(runner: Runner, runner_info: RunnerInfo, case: ConvCase, depthwise: bool) -> None:
    kind = "s8_dwconv" if depthwise else "s8_conv"
    kernel = runner_info.kernels[kind]
    pixels, tile = kernel.pixel_tile, ref.channel_tile(kernel)
    out_w, out_h = ref.resolve(case.out_hw[0], pixels), case.out_hw[1]
    channels, out_channels = ref.resolve(case.channels, tile), ref.resolve(case.out_channels, tile)
    groups = ref.resolve(case.groups, tile)
    if min(out_w, channels, out_channels) < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    along_h, along_w = ref.split_padding(case.padding)
    in_h = ref.input_extent(out_h, case.kernel[0], case.stride[0], case.dilation[0], along_h, 0)
    in_w = ref.input_extent(out_w, case.kernel[1], case.stride[1], case.dilation[1], along_w, 0)
    if case.out_hw == (1, 1) and case.padding == "valid":
        in_h, in_w = case.kernel
    layer = L.Conv2D(out_channels, case.kernel, case.stride, case.dilation, case.padding, groups, case.activation)
    depth = channels // groups
    x, w, b, quant = operands(str(case), (in_h, in_w, channels), (out_channels, *case.kernel, depth), out_channels,
                              depth * case.kernel[0] * case.kernel[1], case.scales, case.zeros, case.bias)
    result = runner.run_s8(layer, x, w, b, quant)
    assert result.kernel == kernel.name, (str(case), result.kernel, kernel.name)
    want = conv_reference(layer, x, w, b, quant, depthwise)
    assert want.shape[:2] == (out_h, out_w), (want.shape, out_h, out_w)
    assert_identical(result.output, want, str(case))


@pytest.mark.parametrize("case", CONV_CASES, ids=str)
def test_s8_conv(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    run_conv_case(runner, runner_info, case, depthwise=False)


@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=str)
def test_s8_depthwise(runner: Runner, runner_info: RunnerInfo, case: ConvCase) -> None:
    run_conv_case(runner, runner_info, case, depthwise=True)


# --- fully connected: outputs around T, reductions of every length, HWC inputs
@dataclass(frozen=True)
class FcCase:
    shape: tuple[int, int, Size]
    out_channels: Size
    activation: L.Activation = "none"
    zeros: tuple[int, int] = (-7, 9)
    scales: Scales = "narrow"
    bias: str = "normal"

    def __str__(self) -> str:
        return (f"fc-{self.shape[0]}x{self.shape[1]}x{ref.label(self.shape[2], 'T')}-o{ref.label(self.out_channels, 'T')}-"
                f"{self.activation}-z{self.zeros[0]}_{self.zeros[1]}-{self.scales}-b{self.bias}")


FC_CASES = [FcCase((1, 1, Edge(2, 1)), o) for o in ref.CHANNEL_EDGES]
FC_CASES += [FcCase((1, 1, k), Edge(1, 1)) for k in (1, 2, 3, 7, 16, 33, Edge(4, 1))]
FC_CASES += [FcCase((2, 3, 5), Edge(1, 1)), FcCase((4, 4, 3), 3), FcCase((6, 6, Edge(1, -1)), Edge(2, 1))]
FC_CASES += [FcCase((2, 3, 5), Edge(1, 1), a, z) for a in ("none", "relu", "relu6", "relu_n1_to_1")
             for z in ((-128, 127), (127, -128))]
FC_CASES += [FcCase((1, 1, 40), Edge(2, 1), scales=s, bias=b) for s in ("wide", "tensor") for b in ("none", "wrap")]


@pytest.mark.parametrize("case", FC_CASES, ids=str)
def test_s8_fully_connected(runner: Runner, runner_info: RunnerInfo, case: FcCase) -> None:
    kernel = runner_info.kernels["s8_fc"]
    tile = ref.channel_tile(kernel)
    shape = (case.shape[0], case.shape[1], ref.resolve(case.shape[2], tile))
    out_channels = ref.resolve(case.out_channels, tile)
    if min(shape[2], out_channels) < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    depth = math.prod(shape)
    x, w, b, quant = operands(str(case), shape, (out_channels, depth), out_channels, depth, case.scales, case.zeros,
                              case.bias)
    result = runner.run_s8(L.FullyConnected(out_channels, case.activation), x, w, b, quant)
    assert result.kernel == kernel.name, (str(case), result.kernel, kernel.name)
    want = q8.fully_connected(x, w, b, q8.Quant(quant.input_scale, quant.input_zero_point), quant.weight_scales,
                              q8.Quant(quant.output_scale, quant.output_zero_point), activation=case.activation)
    assert_identical(result.output, want.reshape(1, 1, out_channels), str(case))


def test_s8_results_do_not_depend_on_the_thread_count(runner: Runner, runner_info: RunnerInfo) -> None:
    """The int8 walk shares its units with the float one: 2 threads give the same bits (a layer large
    enough for the pool: a conv, a depthwise with border columns, an FC over 2^18 MACs)."""
    cases = [(ConvCase((Edge(4, 1), 12), 16, 24), False), (ConvCase((Edge(4, 1), 12), 24, 24, groups=24), True)]
    try:
        runner.set_threads(2)
    except SmallError as error:
        pytest.skip(f"this build runs one thread: {error}")
    try:
        for case, depthwise in cases:
            run_conv_case(runner, runner_info, case, depthwise)
        test_s8_fully_connected(runner, runner_info, FcCase((8, 8, 16), Edge(32, 1)))
    finally:
        runner.set_threads(1)


def test_s8_refusals(runner: Runner) -> None:
    """What int8 does not take is refused with a reason, not run: a float-only activation, a zero point
    outside int8, a count of weight scales that is neither 1 nor one per channel."""
    x = np.zeros((3, 3, 2), np.int8)
    w = np.ones((4, 3, 3, 2), np.int8)
    good = Quantization(0.5, 0, 0.25, 0, (0.1,))
    for layer, quant, status in [
        (L.Conv2D(4, (3, 3), activation="leaky_relu"), good, "SMALL_ERR_UNSUPPORTED"),
        (L.Conv2D(4, (3, 3)), Quantization(0.5, 128, 0.25, 0, (0.1,)), "SMALL_ERR_PARAM"),
        (L.Conv2D(4, (3, 3)), Quantization(0.5, 0, 0.25, 0, (0.1, 0.2)), "SMALL_ERR_PARAM"),
        (L.Conv2D(4, (3, 3)), Quantization(0.5, 0, 0.0, 0, (0.1,)), "SMALL_ERR_PARAM"),
    ]:
        with pytest.raises(SmallError) as error:
            runner.run_s8(layer, x, w, None, quant)
        assert error.value.status_name == status, (layer, quant, error.value)

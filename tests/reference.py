"""Float64 numpy references for every layer of small_harness, each with a derived error bound, and the
support shared by tests/test_layers_*.py (tile-relative sizes, seeded data, the comparison).

The references are written from the layer definitions, not from the C code: padding is materialised
with np.pad and every window is a strided slice of the padded input, where the C nest instead clips
windows to the input and never reads padding. The two must agree everywhere, edges included.

Every reference returns Expected(value, bound): the exact result (float64, from the float32 operands)
and, element by element, the largest |actual - value| that float32 arithmetic can explain. A kernel
passes when |actual - value| <= bound everywhere; bound 0 means bit-exact equality.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Iterator, Literal, NamedTuple, Sequence, Union

import numpy as np

from small_harness.runner import layers as L
from small_harness.runner.client import KernelInfo, LayerResult, RunnerInfo

EPS32 = float(np.finfo(np.float32).eps)  # 2**-23, one ulp at 1.0; the unit roundoff u is EPS32 / 2
UNIT_ROUNDOFF32 = EPS32 / 2
TINY32 = float(np.finfo(np.float32).tiny)  # smallest normal float32; below it ARM NEON flushes to zero

# c in `c * EPS32 * S`, the bound of a float32 reduction (conv, FC, pools) of terms t_k (products
# x * w, the bias, pooled values) whose exact absolute sum is S = sum |t_k|.
# Rounding a product costs at most u * |t_k| (u = EPS32 / 2): u * S in all, nothing with an FMA.
# Summation step k costs at most u * |s_k|, s_k the partial sum. |s_k| <= S bounds the total by
# (n - 1) * u * S, which grows with the reduction length n until it hides a missing term of a long
# reduction. But the sweeps draw inputs and weights independently from symmetric distributions: the
# step errors are then nearly independent with zero mean and the partial sums are random walks, so
# the summation error is about u * sqrt(sum_k s_k^2 / 3), a fraction of EPS32 * S for any n and any
# order of summation (blocked, pairwise and multi-accumulator orders only shrink the partial sums).
# It is largest when the result is close to S (few terms of one sign: the partial sums drift up to
# S). A Monte Carlo of sequential float32 summation of this data (2e6 reductions each of 9, 27, 81
# and 300 terms) never exceeded 2.7 * EPS32 * S. c = 4 keeps a margin above that, and a wrong,
# missing or doubled term, about S / n, still exceeds 4 * EPS32 * S for any n below 2e6.
SUM_ERROR_FACTOR = 4.0

# Accuracy assumed of the float32 exp inside softmax, in ulps: glibc's expf is below 1 ulp; the
# polynomial approximations of vector kernels (range reduction + degree-5 polynomial) reach 2 to 3.
EXP_ERROR_ULPS = 4.0


class Expected(NamedTuple):
    value: np.ndarray  # float64, the exact result of the layer on the float32 operands
    bound: np.ndarray  # float64 >= 0, same shape: the largest admissible |actual - value|


# --------------------------------------------------------------------------------------------------
# Window geometry


# Padding along one axis: "same", "valid", or explicit (before, after).
AxisPadding = Union[Literal["same", "valid"], tuple[int, int]]


def _explicit(padding: AxisPadding) -> tuple[int, int]:
    """(before, after) of VALID or explicit padding."""
    return padding if isinstance(padding, tuple) else (0, 0)


def _axis_padding(size: int, taps: int, stride: int, dilation: int, padding: AxisPadding) -> tuple[int, int, int]:
    """(pad before, pad after, output size) along one axis."""
    span = (taps - 1) * dilation + 1
    if padding == "same":
        # TFLite: the output covers ceil(size / stride) positions and the window may overhang by
        # `total`; the odd element of the padding goes after.
        out = -(-size // stride)
        total = max((out - 1) * stride + span - size, 0)
        return total // 2, total - total // 2, out
    before, after = _explicit(padding)
    if size + before + after < span:
        raise ValueError(f"window {span} larger than the padded input {size + before + after}")
    return before, after, (size + before + after - span) // stride + 1


def resolve_padding(shape: tuple[int, int], kernel: tuple[int, int], stride: tuple[int, int],
                    dilation: tuple[int, int], padding: L.Padding) -> tuple[tuple[int, int, int, int], tuple[int, int]]:
    """((top, bottom, left, right), (out_h, out_w)) of a window sliding over an H x W input."""
    along_h, along_w = split_padding(padding)
    top, bottom, out_h = _axis_padding(shape[0], kernel[0], stride[0], dilation[0], along_h)
    left, right, out_w = _axis_padding(shape[1], kernel[1], stride[1], dilation[1], along_w)
    return (top, bottom, left, right), (out_h, out_w)


def conv_kind(layer: L.Conv2D, shape: tuple[int, int, int]) -> str:
    """The kernel kind the library must serve a convolution with (the API's rules): depthwise is
    groups == in == out channels; one window that is the whole input, unpadded, undilated, is a
    matrix-vector product (the fully connected kernel); anything else is conv."""
    if layer.groups == shape[2] == layer.out_channels:
        return "dwconv"
    (top, _, left, _), out = resolve_padding(shape[:2], layer.kernel, layer.stride, layer.dilation, layer.padding)
    whole = (layer.kernel == shape[:2] and (top, left) == (0, 0) and out == (1, 1)
             and all(k == 1 or d == 1 for k, d in zip(layer.kernel, layer.dilation)))
    return "fc" if whole and layer.groups == 1 else "conv"


# Winograd F(2x2, 3x3) (lib/src/winograd.c): which conv layers the library computes that way. A conv
# kernel offers the transforms when the runner names its Winograd (KernelInfo.winograd: arch/*/*.c
# define SIMD_WINOGRAD); the library's limits: channels in and out, the workspace in floats and the
# fewest tiles it must hold.
WINOGRAD_MIN_CHANNELS, WINOGRAD_WORKSPACE_FLOATS, WINOGRAD_MIN_CHUNK = 16, 24576, 4


def winograd_serves(layer: L.Conv2D, shape: tuple[int, int, int], conv_kernel: KernelInfo) -> bool:
    """Whether the library computes this conv through Winograd with this conv kernel (the rule of
    small_winograd_applies)."""
    if not conv_kernel.winograd:
        return False
    if layer.kernel != (3, 3) or layer.stride != (1, 1) or layer.dilation != (1, 1) or layer.groups != 1:
        return False
    if conv_kind(layer, shape) != "conv":
        return False
    _, out = resolve_padding(shape[:2], layer.kernel, layer.stride, layer.dilation, layer.padding)
    if min(shape[2], layer.out_channels) < WINOGRAD_MIN_CHANNELS or min(out) < 2:
        return False
    tiles = -(-out[0] // 2) * -(-out[1] // 2)
    most = min(WINOGRAD_WORKSPACE_FLOATS // (16 * (shape[2] + layer.out_channels)), tiles)
    return most >= min(WINOGRAD_MIN_CHUNK, tiles)


def window_taps(padded: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
                 dilation: tuple[int, int], out: tuple[int, int]) -> Iterator[tuple[int, int, np.ndarray]]:
    """For each tap (i, j): the (out_h, out_w, C) input values it meets, one per output pixel."""
    for i in range(kernel[0]):
        rows = slice(i * dilation[0], i * dilation[0] + (out[0] - 1) * stride[0] + 1, stride[0])
        for j in range(kernel[1]):
            cols = slice(j * dilation[1], j * dilation[1] + (out[1] - 1) * stride[1] + 1, stride[1])
            yield i, j, padded[rows, cols, :]


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    top, bottom, left, right = pads
    return np.pad(x, ((top, bottom), (left, right), (0, 0)), constant_values=value)


# --------------------------------------------------------------------------------------------------
# Epilogue


def _activate(value: np.ndarray, bound: np.ndarray, activation: str, alpha: float) -> Expected:
    """Applies the activation to an approximate pre-activation and carries its error bound over."""
    if activation == "none":
        return Expected(value, bound)
    if activation == "relu":
        return Expected(np.maximum(value, 0.0), bound)  # 1-Lipschitz: the error cannot grow
    if activation == "relu6":
        return Expected(np.clip(value, 0.0, 6.0), bound)  # 1-Lipschitz, too
    if activation == "leaky_relu":
        slope = float(np.float32(alpha))  # the library receives alpha as a float32
        result = np.where(value < 0, slope * value, value)
        # Lipschitz constant max(1, |alpha|); the product alpha * x is one more float32 rounding.
        rounding = np.where(value < 0, EPS32 * np.abs(result), 0.0)
        return Expected(result, max(1.0, abs(slope)) * bound + rounding)
    raise ValueError(f"unknown activation {activation!r}")


def _reduction_bound(value: np.ndarray, magnitude: np.ndarray) -> np.ndarray:
    """Bound of a float32 sum whose terms have absolute sum `magnitude` (see SUM_ERROR_FACTOR), plus
    one rounding of the result, for kernels that accumulate wider and round once at the store."""
    return np.asarray(SUM_ERROR_FACTOR * EPS32 * magnitude + EPS32 * np.abs(value))


def _f64(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, dtype=np.float32).astype(np.float64)


# --------------------------------------------------------------------------------------------------
# Layers


def conv2d(layer: L.Conv2D, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None) -> Expected:
    """Grouped, dilated, strided conv2d of an HWC input with OHWI weights, on an explicitly padded input."""
    x64, w64 = _f64(x), _f64(weights)
    height, width, in_channels = x64.shape
    out_channels, kernel_h, kernel_w, depth = w64.shape
    groups = layer.groups
    assert (kernel_h, kernel_w) == layer.kernel and out_channels == layer.out_channels
    assert in_channels == groups * depth and out_channels % groups == 0
    pads, out = resolve_padding((height, width), layer.kernel, layer.stride, layer.dilation, layer.padding)
    padded = _pad(x64, pads)
    # Weights by group: (groups, out per group, kh, kw, depth).
    w_grouped = w64.reshape(groups, out_channels // groups, kernel_h, kernel_w, depth)
    total = np.zeros((*out, groups, out_channels // groups))
    magnitude = np.zeros_like(total)
    for i, j, patch in window_taps(padded, layer.kernel, layer.stride, layer.dilation, out):
        x_grouped = patch.reshape(*out, groups, depth)
        tap = w_grouped[:, :, i, j, :]
        total += np.einsum("hwgk,gok->hwgo", x_grouped, tap)
        magnitude += np.einsum("hwgk,gok->hwgo", np.abs(x_grouped), np.abs(tap))
    # Output channel g * (out per group) + o is where a C-order reshape of (g, o) puts it.
    total = total.reshape(*out, out_channels)
    magnitude = magnitude.reshape(*out, out_channels)
    if bias is not None:
        total += _f64(bias)
        magnitude += np.abs(_f64(bias))
    return _activate(total, _reduction_bound(total, magnitude), layer.activation, layer.alpha)


def fully_connected(layer: L.FullyConnected, x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None
                    ) -> Expected:
    """weights (out, K) times the input flattened in HWC order -> 1 x 1 x out."""
    flat = _f64(x).reshape(-1)
    w64 = _f64(weights)
    assert w64.shape == (layer.out_channels, flat.size)
    total = w64 @ flat
    magnitude = np.abs(w64) @ np.abs(flat)
    if bias is not None:
        total += _f64(bias)
        magnitude += np.abs(_f64(bias))
    shape = (1, 1, layer.out_channels)
    return _activate(total.reshape(shape), _reduction_bound(total, magnitude).reshape(shape), layer.activation,
                     layer.alpha)


def max_pool(layer: L.MaxPool, x: np.ndarray) -> Expected:
    """Max over each window; padding is -inf, so it never wins over a real pixel. Exact."""
    x64 = _f64(x)
    pads, out = resolve_padding(x64.shape[:2], layer.kernel, layer.stride, (1, 1), layer.padding)
    padded = _pad(x64, pads, -np.inf)
    result = np.full((*out, x64.shape[2]), -np.inf)
    for _, _, patch in window_taps(padded, layer.kernel, layer.stride, (1, 1), out):
        result = np.maximum(result, patch)
    return _activate(result, np.zeros_like(result), layer.activation, layer.alpha)


def avg_pool(layer: L.AvgPool, x: np.ndarray) -> Expected:
    """Mean over each window's real pixels: padding adds nothing to the sum nor to the count (TFLite)."""
    x64 = _f64(x)
    pads, out = resolve_padding(x64.shape[:2], layer.kernel, layer.stride, (1, 1), layer.padding)
    padded = _pad(x64, pads)
    padded_ones = _pad(np.ones((*x64.shape[:2], 1)), pads)  # 1 on real pixels, 0 on padding
    total = np.zeros((*out, x64.shape[2]))
    magnitude = np.zeros_like(total)
    count = np.zeros((*out, 1))
    for _, _, patch in window_taps(padded, layer.kernel, layer.stride, (1, 1), out):
        total += patch
        magnitude += np.abs(patch)
    for _, _, patch in window_taps(padded_ones, layer.kernel, layer.stride, (1, 1), out):
        count += patch
    mean = total / count
    # The sum's bound scales down with the division; the division (or a multiply by a rounded
    # reciprocal) is covered by the EPS32 * |mean| term.
    return _activate(mean, _reduction_bound(mean, magnitude / count), layer.activation, layer.alpha)


def global_avg_pool(x: np.ndarray) -> Expected:
    """H x W x C -> 1 x 1 x C mean."""
    x64 = _f64(x)
    mean = x64.mean(axis=(0, 1), keepdims=True)
    return Expected(mean, _reduction_bound(mean, np.abs(x64).mean(axis=(0, 1), keepdims=True)))


def add(layer: L.Add, a: np.ndarray, b: np.ndarray) -> Expected:
    """One float32 addition: off by at most u * |a + b| <= EPS32 * (|a| + |b|)."""
    a64, b64 = _f64(a), _f64(b)
    return _activate(a64 + b64, EPS32 * (np.abs(a64) + np.abs(b64)), layer.activation, layer.alpha)


def activate(layer: L.Activate, x: np.ndarray) -> Expected:
    """Standalone activation of exact inputs: exact, except the rounding of alpha * x."""
    x64 = _f64(x)
    return _activate(x64, np.zeros_like(x64), layer.activation, layer.alpha)


def softmax(x: np.ndarray) -> Expected:
    """Softmax over channels, per pixel, with a relative bound built from the float32 steps of the
    stable algorithm y_c = e_c / sum_j e_j, e_c = exp(x_c - max):

    - x_c - max: one rounding, relative u, i.e. absolute u * |x_c - max|, which exp turns into a
      relative error of u * |x_c - max| of e_c (d exp(d) = exp(d) dd). Exact when the two are within
      a factor 2 (Sterbenz), e.g. large offsets like 1000 + small spread.
    - exp: EXP_ERROR_ULPS ulps, at most EXP_ERROR_ULPS * EPS32 relative.
    - the sum of C positive terms: its relative error is the e-weighted mean of the terms' errors,
      plus (C - 1) * u for the float32 additions (the worst case of recursive summation; positive
      terms do not cancel, so there is no random-walk argument to be had here).
    - the division, or reciprocal and multiply: 2 * u = EPS32.
    The bound is first order in these (their products are below 1e-10 relative). Terms whose exp
    underflows float32 (x_c - max < -87) carry an absolute error below TINY32 each, through the
    exp, the product by 1 / sum <= 1, and a possible flush to zero of the result: 2 * TINY32.
    """
    x64 = _f64(x)
    channels = x64.shape[2]
    shifted = x64 - x64.max(axis=2, keepdims=True)  # exact in float64: float32 operands
    exps = np.exp(shifted)
    total = exps.sum(axis=2, keepdims=True)
    result = exps / total
    term_error = EXP_ERROR_ULPS * EPS32 + UNIT_ROUNDOFF32 * np.abs(shifted)
    sum_error = (exps * term_error).sum(axis=2, keepdims=True) / total + (channels - 1) * UNIT_ROUNDOFF32
    relative = term_error + sum_error + EPS32
    return Expected(result, relative * result + 2 * TINY32)


def concat(inputs: Sequence[np.ndarray]) -> Expected:
    """Along channels. A copy: exact."""
    result = np.concatenate([_f64(x) for x in inputs], axis=2)
    return Expected(result, np.zeros_like(result))


def reshape(layer: L.Reshape, x: np.ndarray) -> Expected:
    """Same HWC-ordered data under a new shape. A copy: exact."""
    result = _f64(x).reshape(layer.shape)
    return Expected(result, np.zeros_like(result))


# --------------------------------------------------------------------------------------------------
# Comparison


def assert_matches(actual: np.ndarray | None, expected: Expected, what: str) -> None:
    """Fails with the worst element (index, values, error, bound) unless every element is within bound."""
    assert actual is not None, f"{what}: no output"
    assert actual.shape == expected.value.shape, f"{what}: output shape {actual.shape}, expected {expected.value.shape}"
    got = actual.astype(np.float64)
    error = np.abs(got - expected.value)
    failing = ~(error <= expected.bound)  # NaN errors fail too
    if not failing.any():
        return
    excess = np.where(np.isnan(error), np.inf, error - expected.bound)
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(excess)), excess.shape))
    raise AssertionError(
        f"{what}: {int(failing.sum())} of {failing.size} elements out of bound; worst at (h, w, c) = {worst}: "
        f"got {got[worst]!r}, expected {expected.value[worst]!r}, error {error[worst]:.4g} > bound "
        f"{expected.bound[worst]:.4g}")


def assert_kernel(result: LayerResult, info: RunnerInfo, kind: str, channels: int | None = None,
                  winograd: bool = False) -> None:
    """The layer was served by this build's kernel of the expected kind: with `channels` (output
    channels per group), the variant of the kind the library must choose for them; `winograd`: through
    that conv kernel's Winograd transforms."""
    kernel = info.kernels[kind] if channels is None else info.kernel_for(kind, channels)
    want = kernel.winograd if winograd else kernel.name
    assert result.kernel == want, f"served by {result.kernel!r}, expected the {kind} kernel {want!r}"


# --------------------------------------------------------------------------------------------------
# Sizes relative to a kernel's tiles, so that one case list sweeps the edges of any kernel


@dataclass(frozen=True)
class Edge:
    """A size of `tiles` whole tiles plus `offset`: Edge(1, -1) is one short of a tile, 'T-1'."""

    tiles: int
    offset: int = 0

    def resolve(self, tile: int) -> int:
        return self.tiles * tile + self.offset

    def label(self, letter: str) -> str:
        head = letter if self.tiles == 1 else f"{self.tiles}{letter}"
        return head + (f"{self.offset:+d}" if self.offset else "")


@dataclass(frozen=True)
class Quarter:
    """A size of `quarters` quarter tiles plus `offset`: inside a tile of several vectors (the fully
    connected kernels' 4 or 2), Quarter(3, 1) is 3 whole vectors of 4 and one more channel, '3T/4+1'."""

    quarters: int
    offset: int = 0

    def resolve(self, tile: int) -> int:
        return self.quarters * tile // 4 + self.offset

    def label(self, letter: str) -> str:
        return f"{self.quarters}{letter}q" + (f"{self.offset:+d}" if self.offset else "")


Size = Union[int, Edge, Quarter]

# Kernels taking all channels in one call (channel_tile 0) have no channel edge to sweep; sizes
# relative to T then simply pick a few small counts.
TILE_OF_ALL_CHANNELS = 4


def channel_tile(kernel: KernelInfo) -> int:
    return kernel.channel_tile or TILE_OF_ALL_CHANNELS


KERNEL_KINDS = ("conv", "dwconv", "maxpool", "avgpool", "add", "copy", "softmax", "fc")


def nominal_runner_info(pixel_tile: int = 4, channel_tile: int = 8) -> RunnerInfo:
    """Stand-in tiles (those of the portable kernels) for checking case lists when they are built,
    before any runner exists: e.g. that a case's input has at least one pixel."""
    return RunnerInfo(("ref",), ("ref",), ("ref",), "",
                      {kind: KernelInfo(kind, pixel_tile, channel_tile) for kind in KERNEL_KINDS})


def resolve(size: Size, tile: int) -> int:
    return size if isinstance(size, int) else size.resolve(tile)


def label(size: Size, letter: str) -> str:
    return str(size) if isinstance(size, int) else size.label(letter)


# Counts around one and two tiles: every remainder class next to a tile boundary (empty tail, a
# one-element tail, a tail one short of full) and a full tile followed by more.
CHANNEL_EDGES: tuple[Size, ...] = (1, 2, Edge(1, -1), Edge(1), Edge(1, 1), Edge(2, 1))
PIXEL_EDGES: tuple[Size, ...] = (1, 2, Edge(1, -1), Edge(1), Edge(1, 1), Edge(2, -1), Edge(2, 1))


def input_extent(out: int, taps: int, stride: int, dilation: int, padding: AxisPadding, slack: int) -> int:
    """An input size along one axis that gives `out` outputs. `slack` (0 .. stride - 1) varies it among
    the sizes that do: for SAME it shortens the input (changing the padding TFLite adds), otherwise it
    leaves that many trailing input pixels that no window reaches."""
    if padding == "same":
        return out * stride - slack
    before, after = _explicit(padding)
    return (out - 1) * stride + (taps - 1) * dilation + 1 - before - after + slack


def split_padding(padding: L.Padding) -> tuple[AxisPadding, AxisPadding]:
    """Per-axis padding: (along H, along W)."""
    if isinstance(padding, tuple):
        return (padding[0], padding[1]), (padding[2], padding[3])
    return padding, padding


def padding_label(padding: L.Padding) -> str:
    return padding if isinstance(padding, str) else "p" + "-".join(str(p) for p in padding)


def pair_label(pair: tuple[int, int]) -> str:
    return str(pair[0]) if pair[0] == pair[1] else f"{pair[0]}x{pair[1]}"


def activation_label(activation: str, alpha: float) -> str:
    return f"leaky{alpha:g}" if activation == "leaky_relu" else activation


# Every activation, leaky with a small, a negative and a > 1 slope (the last one grows errors).
ACTIVATIONS: tuple[tuple[L.Activation, float], ...] = (
    ("none", 0.0), ("relu", 0.0), ("relu6", 0.0), ("leaky_relu", 0.1), ("leaky_relu", -0.5), ("leaky_relu", 2.5),
)


# --------------------------------------------------------------------------------------------------
# Seeded data


def case_rng(case_id: str) -> np.random.Generator:
    """A generator seeded from the case id, so a failing case reproduces alone and on every run."""
    return np.random.default_rng(zlib.crc32(case_id.encode()))


def uniform(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Symmetric uniform float32 values in [-scale, scale)."""
    return (scale * rng.uniform(-1.0, 1.0, size=shape)).astype(np.float32)


def banded(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Random sign times a magnitude in [scale / 2, scale): symmetric, but never near zero, so that
    products of two such tiny values stay far above float32's normal minimum (no flush to zero)."""
    signs = rng.choice(np.array([-1.0, 1.0]), size=shape)
    return (signs * scale * rng.uniform(0.5, 1.0, size=shape)).astype(np.float32)


@dataclass(frozen=True)
class Magnitude:
    """Scales of inputs and weights of a MAC case. Products reach input * weight; sums stay below
    float32's maximum 3.4e38 (large) and above its normal minimum 1.2e-38 (tiny)."""

    name: str
    input_scale: float
    weight_scale: float


NORMAL = Magnitude("normal", 1.0, 1.0)
LARGE = Magnitude("large", 1e18, 1e12)  # products ~1e30
TINY = Magnitude("tiny", 1e-10, 1e-10)  # products ~1e-20

"""An exact numpy model of LiteRT's int8 reference kernels (the BUILTIN_REF op resolver), op by op, and
a runner that takes a whole int8 .tflite file through them: the oracle the library's int8 kernels will
be checked against, bit for bit.

Why the reference kernels and not LiteRT's default path: the default (XNNPACK and the optimized kernels)
requantizes in float32 with round-half-to-even, and differs from the reference kernels by one step or
more on some outputs of every real model but the smallest; the reference kernels define the arithmetic
(TFLite's quantization spec) and are what microcontroller runtimes (TFLite Micro) run.

Written from the TFLite sources (tflite/kernels/internal/reference/, common.h, quantization_util.cc,
kernel_util.cc and the op kernels' Prepare, as of LiteRT's main branch of August 2026; the tests check
it against ai-edge-litert 2.3.0), not copied: each function's docstring names the TFLite function it
mirrors. Every value is an int64 numpy array holding what TFLite holds in an int32; where C++ wraps an int32 (the library builds those functions
without the overflow sanitizer), `wrap_int32` wraps too. Scales are float32 in the file and in TFLite's
tensors; TFLite combines them sometimes in float, sometimes in double, and so does this module, step by
step, because a multiplier that differs in its last bit changes some outputs by one step.

Tensors are NHWC with batch 1, as every model the library runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple, Sequence

import numpy as np
import tflite

from reference import window_taps, resolve_padding

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
INT8_MIN, INT8_MAX = -128, 127

# A fused activation, as TFLite's ActivationFunctionType names it (TANH and SIGN_BIT do not occur in
# int8 files).
Activation = Literal["none", "relu", "relu_n1_to_1", "relu6"]
Padding = Literal["same", "valid"]


class Quant(NamedTuple):
    """An activation tensor's quantization: real = scale * (q - zero_point). scale is the file's float32."""
    scale: float
    zero_point: int


# --------------------------------------------------------------------------------------------------
# Integer arithmetic (gemmlowp's fixedpoint.h and TFLite's common.h, quantization_util.cc)


def wrap_int32(x: np.ndarray | int) -> np.ndarray:
    """x modulo 2^32 as a signed int32 value: what C++ int32 arithmetic leaves after an overflow."""
    return ((np.asarray(x, np.int64) + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """C's round()/roundf() (TfLiteRound): to nearest, ties away from zero, on doubles or floats.
    Written with trunc, whose remainder x - trunc(x) is exact, because floor(x + 0.5) rounds
    0.49999999999999994 up."""
    x = np.asarray(x)
    whole = np.trunc(x)
    return whole + np.sign(x) * (np.abs(x - whole) >= 0.5)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """QuantizeMultiplier (quantization_util.cc, double rounding build): (q, shift) with
    real = q * 2^(shift - 31), q in [2^30, 2^31): frexp's fraction times 2^31, rounded half away from
    zero; a fraction that rounds up to 2^31 is halved and the shift grows by one; multipliers below
    about 2^-32 (shift < -31) flush to (0, 0). The shift is not capped above: MultiplyByQuantizedMultiplier
    shifts left by it (and wraps where that overflows)."""
    if real_multiplier == 0.0:
        return 0, 0
    fraction, shift = math.frexp(real_multiplier)
    q = int(round_half_away(fraction * float(1 << 31)))  # exact: a power-of-two scaling
    assert q <= 1 << 31
    if q == 1 << 31:
        q //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return q, shift


def saturating_rounding_doubling_high_mul(a: np.ndarray | int, b: np.ndarray | int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul (ARM's VQRDMULH): (a * b + nudge) / 2^31 with C's
    division toward zero and nudge +2^30 for a non-negative product, 1 - 2^30 for a negative one (so
    ties go away from zero); INT32_MIN * INT32_MIN, the one product whose result does not fit,
    saturates to INT32_MAX."""
    a, b = np.asarray(a, np.int64), np.asarray(b, np.int64)
    product = a * b  # at most 2^62: fits
    nudged = product + np.where(product >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(nudged >= 0, nudged >> 31, -((-nudged) >> 31))  # division toward zero
    return np.where((a == INT32_MIN) & (b == INT32_MIN), INT32_MAX, high)


def rounding_divide_by_pot(x: np.ndarray | int, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: x / 2^exponent (exponent 0..31) rounded to nearest, ties away from
    zero: the arithmetic shift plus one where the bits shifted out exceed half (or reach half, for a
    negative x)."""
    x, exponent = np.asarray(x, np.int64), np.asarray(exponent, np.int64)
    assert np.all((exponent >= 0) & (exponent <= 31)), "RoundingDivideByPOT takes exponents 0..31"
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def saturating_left_shift(x: np.ndarray | int, exponent: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingMultiplyByPOT for exponent > 0: x * 2^exponent, saturated to int32.
    (For exponent < 0 gemmlowp's version is rounding_divide_by_pot(x, -exponent).)"""
    x = np.asarray(x, np.int64)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def multiply_by_quantized_multiplier(x: np.ndarray | int, multiplier: np.ndarray | int,
                                     shift: np.ndarray | int) -> np.ndarray:
    """MultiplyByQuantizedMultiplier(int32 x, ...) of common.cc, double rounding: x shifted left by a
    positive shift (in int32: it wraps where it overflows), times the multiplier by
    saturating_rounding_doubling_high_mul, then rounding_divide_by_pot by a negative shift. multiplier
    and shift broadcast against x (per-channel: along its last axis)."""
    shift = np.asarray(shift, np.int64)
    left, right = np.maximum(shift, 0), np.maximum(-shift, 0)
    shifted = wrap_int32(np.asarray(x, np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def multiply_by_quantized_multiplier_smaller_than_one(x: np.ndarray | int, multiplier: int,
                                                      shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplierSmallerThanOneExp (common.h): the high multiply, then a rounding
    right shift by -shift (shift <= 0). ADD and SUB use it."""
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x, multiplier), -shift)


def multiply_by_quantized_multiplier_greater_than_one(x: np.ndarray | int, multiplier: int,
                                                      left_shift: int) -> np.ndarray:
    """MultiplyByQuantizedMultiplierGreaterThanOne (common.h): x shifted left in int32 (wrapping), then
    the high multiply; no right shift. SOFTMAX scales its input differences with it."""
    return saturating_rounding_doubling_high_mul(wrap_int32(np.asarray(x, np.int64) << left_shift), multiplier)


def requantize_in_double(acc: np.ndarray, effective_scale: np.ndarray | float) -> np.ndarray:
    """The float requantization of reference_integer_ops::FullyConnected (since April 2025):
    (int32) round((double)acc * effective_scale), ties away from zero. The product is one IEEE double
    multiplication, as in C, so numpy computes the same double."""
    scaled = round_half_away(np.asarray(acc, np.float64) * np.asarray(effective_scale, np.float64))
    return np.clip(scaled, INT32_MIN, INT32_MAX).astype(np.int64)  # C's cast is undefined beyond; clip


def activation_range(activation: Activation, output: Quant) -> tuple[int, int]:
    """CalculateActivationRangeQuantized (kernel_util.cc) for int8: the clamp of a fused activation, its
    bounds quantized as TFLite's Quantize does (roundf(f / scale) in float32, plus the zero point)."""
    def quantize(value: float) -> int:
        return output.zero_point + int(round_half_away(np.float32(value) / np.float32(output.scale)))

    if activation == "none":
        return INT8_MIN, INT8_MAX
    if activation == "relu":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "relu6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "relu_n1_to_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise ValueError(f"no int8 clamp for activation {activation!r}")


def _store(value: np.ndarray, activation: Activation, output: Quant) -> np.ndarray:
    """The common epilogue: the requantized value plus the output zero point, clamped to the
    activation's range, stored as int8."""
    low, high = activation_range(activation, output)
    return np.clip(value + output.zero_point, low, high).astype(np.int8)


def _f32(value: float) -> np.float32:
    return np.float32(value)


# --------------------------------------------------------------------------------------------------
# Convolutions and fully connected


def channel_multipliers(input_scale: float, weight_scales: Sequence[float], output_scale: float,
                        channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams (kernel_util.cc): per output channel, QuantizeMultiplier of
    (double)input_scale * (double)weight_scale / (double)output_scale; a single weight scale serves
    every channel."""
    scales = np.broadcast_to(np.asarray(weight_scales, np.float32), (channels,))
    pairs = [quantize_multiplier(float(_f32(input_scale)) * float(s) / float(_f32(output_scale))) for s in scales]
    return np.array([q for q, _ in pairs], np.int64), np.array([s for _, s in pairs], np.int64)


def _padded_offsets(x: np.ndarray, zero_point: int, pads: tuple[int, int, int, int]) -> np.ndarray:
    """x - zero_point (int64), padded with zeros: a tap outside the image adds nothing, as the
    reference kernels' skipped taps."""
    top, bottom, left, right = pads
    return np.pad(x.astype(np.int64) - zero_point, ((top, bottom), (left, right), (0, 0)))


def conv2d(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None, input: Quant,
           weight_scales: Sequence[float], output: Quant, stride: tuple[int, int] = (1, 1),
           dilation: tuple[int, int] = (1, 1), padding: Padding = "valid",
           activation: Activation = "none") -> np.ndarray:
    """reference_integer_ops::ConvPerChannel: HWC int8 input, OHWI int8 weights (symmetric: their zero
    point is ignored), int32 bias; per output channel an int32 sum of weight * (input - input zero
    point), plus the bias, through multiply_by_quantized_multiplier, plus the output zero point,
    clamped. Grouped when the weights hold fewer input channels than the input."""
    height, width, in_channels = x.shape
    out_channels, kernel_h, kernel_w, depth = weights.shape
    groups = in_channels // depth
    pads, out = resolve_padding((height, width), (kernel_h, kernel_w), stride, dilation, padding)
    padded = _padded_offsets(x, input.zero_point, pads)
    # float64 products and sums are exact here (|w| <= 128, |x - zp| <= 255, sums far below 2^53)
    # and go through BLAS, which int64 matmul does not.
    w_grouped = weights.astype(np.float64).reshape(groups, out_channels // groups, kernel_h, kernel_w, depth)
    acc = np.zeros((*out, groups, out_channels // groups))
    for i, j, patch in window_taps(padded, (kernel_h, kernel_w), stride, dilation, out):
        acc += np.einsum("hwgk,gok->hwgo", patch.reshape(*out, groups, depth).astype(np.float64), w_grouped[:, :, i, j])
    acc = acc.reshape(*out, out_channels).astype(np.int64)
    if bias is not None:
        acc += bias.astype(np.int64)
    multiplier, shift = channel_multipliers(input.scale, weight_scales, output.scale, out_channels)
    return _store(multiply_by_quantized_multiplier(wrap_int32(acc), multiplier, shift), activation, output)


def depthwise_conv2d(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None, input: Quant,
                     weight_scales: Sequence[float], output: Quant, stride: tuple[int, int] = (1, 1),
                     dilation: tuple[int, int] = (1, 1), padding: Padding = "valid",
                     activation: Activation = "none", depth_multiplier: int = 1) -> np.ndarray:
    """reference_integer_ops::DepthwiseConvPerChannel: weights 1 x KH x KW x (C * depth_multiplier);
    output channel c * depth_multiplier + m reads input channel c. The epilogue is conv2d's."""
    height, width, in_channels = x.shape
    _, kernel_h, kernel_w, out_channels = weights.shape
    assert out_channels == in_channels * depth_multiplier
    pads, out = resolve_padding((height, width), (kernel_h, kernel_w), stride, dilation, padding)
    padded = np.repeat(_padded_offsets(x, input.zero_point, pads), depth_multiplier, axis=2)
    w = weights.astype(np.int64)
    acc = np.zeros((*out, out_channels), np.int64)
    for i, j, patch in window_taps(padded, (kernel_h, kernel_w), stride, dilation, out):
        acc += patch * w[0, i, j]
    if bias is not None:
        acc += bias.astype(np.int64)
    multiplier, shift = channel_multipliers(input.scale, weight_scales, output.scale, out_channels)
    return _store(multiply_by_quantized_multiplier(wrap_int32(acc), multiplier, shift), activation, output)


def fully_connected(x: np.ndarray, weights: np.ndarray, bias: np.ndarray | None, input: Quant,
                    weight_scales: Sequence[float], output: Quant, weight_zero_point: int = 0,
                    activation: Activation = "none") -> np.ndarray:
    """reference_integer_ops::FullyConnected (one weight scale) and FullyConnectedPerChannel (one per
    output): x flattened to rows of the weights' depth; per output an int32 sum of
    (weight - weight zero point, per-tensor only) * (input - input zero point) plus the bias, then, unlike
    conv, requantize_in_double by (double)input_scale * (double)weight_scale / (double)output_scale.
    Returns (rows, outputs)."""
    out_channels, depth = weights.shape
    rows = x.reshape(-1, depth).astype(np.int64) - input.zero_point
    per_channel = len(weight_scales) > 1
    w = weights.astype(np.int64) - (0 if per_channel else weight_zero_point)
    acc = (rows.astype(np.float64) @ w.T.astype(np.float64)).astype(np.int64)  # exact, as in conv2d
    if bias is not None:
        acc += bias.astype(np.int64)
    scales = np.broadcast_to(np.asarray(weight_scales, np.float32), (out_channels,)).astype(np.float64)
    effective = float(_f32(input.scale)) * scales / float(_f32(output.scale))
    return _store(requantize_in_double(wrap_int32(acc), effective), activation, output)


# --------------------------------------------------------------------------------------------------
# Pools


def average_pool(x: np.ndarray, filter_size: tuple[int, int], stride: tuple[int, int] = (1, 1),
                 padding: Padding = "valid", activation: Activation = "none",
                 output: Quant | None = None) -> np.ndarray:
    """reference_integer_ops::AveragePool (int8): the raw int8 values of the window's pixels inside the
    image summed (input and output share scale and zero point), divided by their count rounding half
    away from zero ((sum +- count / 2) / count in C's truncating division), clamped to the activation
    range (of output's quantization; any for "none")."""
    pads, out = resolve_padding(x.shape[:2], filter_size, stride, (1, 1), padding)
    top, bottom, left, right = pads
    padded = np.pad(x.astype(np.int64), ((top, bottom), (left, right), (0, 0)))
    inside = np.pad(np.ones((*x.shape[:2], 1), np.int64), ((top, bottom), (left, right), (0, 0)))
    total = np.zeros((*out, x.shape[2]), np.int64)
    count = np.zeros((*out, 1), np.int64)
    for _, _, patch in window_taps(padded, filter_size, stride, (1, 1), out):
        total += patch
    for _, _, patch in window_taps(inside, filter_size, stride, (1, 1), out):
        count += patch
    nudged = np.where(total > 0, total + count // 2, total - count // 2)
    mean = np.sign(nudged) * (np.abs(nudged) // count)  # C's division toward zero
    low, high = activation_range(activation, output) if output else (INT8_MIN, INT8_MAX)
    return np.clip(mean, low, high).astype(np.int8)


def max_pool(x: np.ndarray, filter_size: tuple[int, int], stride: tuple[int, int] = (1, 1),
             padding: Padding = "valid", activation: Activation = "none", output: Quant | None = None) -> np.ndarray:
    """reference_integer_ops::MaxPool (int8): the largest value of the window's pixels inside the image,
    clamped to the activation range."""
    pads, out = resolve_padding(x.shape[:2], filter_size, stride, (1, 1), padding)
    top, bottom, left, right = pads
    below_int8 = INT8_MIN - 1  # padding never wins
    padded = np.pad(x.astype(np.int64), ((top, bottom), (left, right), (0, 0)), constant_values=below_int8)
    result = np.full((*out, x.shape[2]), below_int8, np.int64)
    for _, _, patch in window_taps(padded, filter_size, stride, (1, 1), out):
        result = np.maximum(result, patch)
    low, high = activation_range(activation, output) if output else (INT8_MIN, INT8_MAX)
    return np.clip(result, low, high).astype(np.int8)


# --------------------------------------------------------------------------------------------------
# Element-wise


ADD_LEFT_SHIFT = 20  # int8 ADD and SUB: input differences (< 2^9) shifted left by 20 still fit an int32


@dataclass(frozen=True)
class AddParams:
    """The multipliers of int8 ADD and SUB (add.cc and sub.cc Prepare): both inputs scaled to twice the
    larger input scale (multipliers <= 1/2), their sum scaled back to the output."""
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int

    @classmethod
    def of(cls, input1: Quant, input2: Quant, output: Quant) -> "AddParams":
        # 2 * max(float, float) is a float, promoted to double for the divisions; (1 << 20) * scale is
        # a float product too (exact: a power of two).
        twice_max = float(2 * max(_f32(input1.scale), _f32(input2.scale)))
        real1 = float(_f32(input1.scale)) / twice_max
        real2 = float(_f32(input2.scale)) / twice_max
        real_output = twice_max / float(np.float32(1 << ADD_LEFT_SHIFT) * _f32(output.scale))
        assert 0 < real1 < 1 and 0 < real2 < 1, "QuantizeMultiplierSmallerThanOneExp takes (0, 1)"
        assert real_output < 1, "an output multiplier >= 1 is not supported by int8 ADD (SUB refuses it too)"
        return cls(*quantize_multiplier(real1), *quantize_multiplier(real2), *quantize_multiplier(real_output))


def _add_or_sub(a: np.ndarray, b: np.ndarray, input1: Quant, input2: Quant, output: Quant, activation: Activation,
                sign: int) -> np.ndarray:
    p = AddParams.of(input1, input2, output)
    scaled1 = multiply_by_quantized_multiplier_smaller_than_one(
        wrap_int32((a.astype(np.int64) - input1.zero_point) << ADD_LEFT_SHIFT), p.input1_multiplier, p.input1_shift)
    scaled2 = multiply_by_quantized_multiplier_smaller_than_one(
        wrap_int32((b.astype(np.int64) - input2.zero_point) << ADD_LEFT_SHIFT), p.input2_multiplier, p.input2_shift)
    raw = wrap_int32(scaled1 + sign * scaled2)
    return _store(multiply_by_quantized_multiplier_smaller_than_one(raw, p.output_multiplier, p.output_shift),
                  activation, output)


def add(a: np.ndarray, b: np.ndarray, input1: Quant, input2: Quant, output: Quant,
        activation: Activation = "none") -> np.ndarray:
    """reference_integer_ops::AddFunc (and its broadcasting loop, numpy's broadcasting here): each input
    minus its zero point, shifted left by 20, times its multiplier; the sum times the output multiplier
    (all MultiplyByQuantizedMultiplierSmallerThanOneExp), plus the output zero point, clamped."""
    return _add_or_sub(a, b, input1, input2, output, activation, 1)


def sub(a: np.ndarray, b: np.ndarray, input1: Quant, input2: Quant, output: Quant,
        activation: Activation = "none") -> np.ndarray:
    """reference_ops::SubElementwise for int8: ADD's arithmetic with the scaled inputs subtracted."""
    return _add_or_sub(a, b, input1, input2, output, activation, -1)


def mul(a: np.ndarray, b: np.ndarray, input1: Quant, input2: Quant, output: Quant,
        activation: Activation = "none") -> np.ndarray:
    """reference_integer_ops::MulElementwise (int8): (a - zp1) * (b - zp2) through
    multiply_by_quantized_multiplier by the multiplier of scale1 * scale2 / scale_out, which mul.cc
    computes in float32 (float operands), then widens to double for QuantizeMultiplier."""
    real = float(_f32(input1.scale) * _f32(input2.scale) / _f32(output.scale))
    multiplier, shift = quantize_multiplier(real)
    product = (a.astype(np.int64) - input1.zero_point) * (b.astype(np.int64) - input2.zero_point)
    return _store(multiply_by_quantized_multiplier(product, multiplier, shift), activation, output)


# --------------------------------------------------------------------------------------------------
# Softmax: gemmlowp fixed point. A FixedPoint<int32, I> value is its raw int32 (real = raw / 2^(31 - I));
# products are saturating_rounding_doubling_high_mul (integer bits add up), Rescale a saturating shift.

SOFTMAX_DIFF_INTEGER_BITS = 5  # the exp's input: Q5.26
SOFTMAX_SUM_INTEGER_BITS = 12  # the sum of exps: Q12.19


def _rescale(raw: np.ndarray, from_bits: int, to_bits: int) -> np.ndarray:
    """gemmlowp Rescale<to_bits>(FixedPoint<int32, from_bits>)."""
    exponent = from_bits - to_bits
    if exponent > 0:
        return saturating_left_shift(raw, exponent)
    return rounding_divide_by_pot(raw, -exponent) if exponent < 0 else raw


def _exp_on_quarter_interval(a: np.ndarray) -> np.ndarray:
    """gemmlowp exp_on_interval_between_negative_one_quarter_and_0_excl: Q0.31 in and out; a Taylor
    polynomial of degree 4 around -1/8."""
    mul = saturating_rounding_doubling_high_mul
    exp_minus_one_eighth, one_third = 1895147668, 715827883  # Q0.31 exp(-1/8), 1/3
    x = wrap_int32(a + (1 << 28))  # a + 1/8
    x2 = mul(x, x)
    x3 = mul(x2, x)
    x4 = mul(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    polynomial = rounding_divide_by_pot(wrap_int32(mul(wrap_int32(x4_over_4 + x3), one_third) + x2), 1)
    return wrap_int32(exp_minus_one_eighth + mul(exp_minus_one_eighth, wrap_int32(x + polynomial)))


# exp(-2^k) in Q0.31 for k = -2 .. 4: the barrel shifter's factors, one per bit of the input's magnitude.
_EXP_OF_MINUS_POWERS_OF_TWO = {-2: 1672461947, -1: 1302514674, 0: 790015084, 1: 290630308, 2: 39332535,
                               3: 720401, 4: 242}


def exp_on_negative_values(a: np.ndarray, integer_bits: int) -> np.ndarray:
    """gemmlowp exp_on_negative_values: exp(a) in Q0.31 for a <= 0 in Q(integer_bits): exp of a's part
    modulo 1/4 (shifted into [-1/4, 0)) by the polynomial, times exp(-2^k) for each bit k of the rest;
    below -32 (integer_bits > 5) zero; exp(0) is Q0.31's one, INT32_MAX."""
    a = np.asarray(a, np.int64)
    fractional_bits = 31 - integer_bits
    one_quarter = 1 << (fractional_bits - 2)
    a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_quarter_interval(_rescale(a_mod_quarter_minus_quarter, integer_bits, 0))
    remainder = wrap_int32(a_mod_quarter_minus_quarter - a)
    for exponent, factor in _EXP_OF_MINUS_POWERS_OF_TWO.items():
        if integer_bits > exponent:
            bit = (remainder >> (fractional_bits + exponent)) & 1
            result = np.where(bit != 0, saturating_rounding_doubling_high_mul(result, factor), result)
    if integer_bits > 5:
        result = np.where(a < -(1 << (36 - integer_bits)), 0, result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """gemmlowp one_over_one_plus_x_for_x_in_0_1: Q0.31 in and out; three Newton-Raphson steps for
    1 / d, d = (1 + a) / 2, from 48/17 - 32/17 d, in Q2.29."""
    mul = saturating_rounding_doubling_high_mul
    a = np.asarray(a, np.int64)
    total = a + INT32_MAX  # RoundingHalfSum(a, one): (sum +- 1) / 2 toward zero, in 64 bits
    half_denominator = np.where(total >= 0, (total + 1) // 2, -((-total + 1) // 2))
    one_q2 = 1 << 29
    x = wrap_int32(1515870810 + mul(half_denominator, -1010580540))  # 48/17 + d * (-32/17), Q2.29
    for _ in range(3):
        one_minus_dx = wrap_int32(one_q2 - mul(half_denominator, x))  # Q2.29
        x = wrap_int32(x + _rescale(mul(x, one_minus_dx), 4, 2))
    return _rescale(x, 1, 0)  # ExactMulByPot<-1>: the same raw as Q1.30, then Rescale<0>


def _count_leading_zeros(x: np.ndarray) -> np.ndarray:
    """CountLeadingZeros of x as a uint32 (32 for zero)."""
    u = np.asarray(x, np.int64) & 0xFFFFFFFF
    bits = np.zeros(u.shape, np.int64)
    for width in range(1, 33):
        bits = np.where(u >= (np.int64(1) << (width - 1)), width, bits)
    return 32 - bits


def get_reciprocal(x: np.ndarray, integer_bits: int) -> tuple[np.ndarray, np.ndarray]:
    """GetReciprocal (common.h): (1 / x as Q0.31 after normalising x into [1, 2), bits of x above one).
    x is a positive Q(integer_bits) value."""
    headroom_plus_one = _count_leading_zeros(x)
    bits_over_unit = integer_bits - headroom_plus_one
    shifted_minus_one = wrap_int32(((np.asarray(x, np.int64) << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), bits_over_unit


@dataclass(frozen=True)
class SoftmaxParams:
    """softmax's input scaling (activations.cc SoftmaxPrepare, reference kernel): PreprocessSoftmaxScaling
    and CalculateInputRadius."""
    input_multiplier: int
    input_left_shift: int
    diff_min: int

    @classmethod
    def of(cls, input_scale: float, beta: float) -> "SoftmaxParams":
        fractional = 31 - SOFTMAX_DIFF_INTEGER_BITS
        real = min(float(_f32(beta)) * float(_f32(input_scale)) * float(1 << fractional), float((1 << 31) - 1))
        assert real > 1, "QuantizeMultiplierGreaterThanOne takes multipliers above 1"
        multiplier, left_shift = quantize_multiplier(real)
        radius = math.floor(((1 << SOFTMAX_DIFF_INTEGER_BITS) - 1) * float(1 << fractional) / float(1 << left_shift))
        return cls(multiplier, left_shift, -radius)


def softmax(x: np.ndarray, input: Quant, beta: float = 1.0) -> np.ndarray:
    """reference_ops::Softmax, int8 in and out (output scale 1/256, zero point -128, which SoftmaxPrepare
    requires), over the last axis: each input's difference from its row's maximum, scaled into Q5.26,
    exp'd in fixed point (exp_on_negative_values), summed in Q12.19; the sum's reciprocal
    (get_reciprocal) times each exp, shifted to 8 bits with rounding, minus 128, clamped. Differences
    below diff_min give -128 and are left out of the sum."""
    p = SoftmaxParams.of(input.scale, beta)
    values = x.astype(np.int64)
    diff = values - values.max(axis=-1, keepdims=True)
    counted = diff >= p.diff_min
    scaled = multiply_by_quantized_multiplier_greater_than_one(diff, p.input_multiplier, p.input_left_shift)
    exps = exp_on_negative_values(np.where(counted, scaled, 0), SOFTMAX_DIFF_INTEGER_BITS)
    terms = np.where(counted, _rescale(exps, 0, SOFTMAX_SUM_INTEGER_BITS), 0)
    sum_of_exps = wrap_int32(terms.sum(axis=-1, keepdims=True))
    reciprocal, bits_over_unit = get_reciprocal(sum_of_exps, SOFTMAX_SUM_INTEGER_BITS)
    exponent = bits_over_unit + 31 - 8
    assert np.all((exponent >= 0) & (exponent <= 31))
    unsaturated = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(reciprocal, exps), exponent)
    result = np.clip(unsaturated + INT8_MIN, INT8_MIN, INT8_MAX)
    return np.where(counted, result, INT8_MIN).astype(np.int8)


# --------------------------------------------------------------------------------------------------
# Data movement and the float boundary


def concatenation(inputs: Sequence[np.ndarray], quants: Sequence[Quant], output: Quant, axis: int) -> np.ndarray:
    """CONCATENATION for int8 (concatenation.cc): a copy. LiteRT's Prepare refuses int8 inputs whose
    scale or zero point differs from the output's (no requantization, unlike uint8), and so does this."""
    assert all(q == output for q in quants), "int8 CONCATENATION requires every input quantized as its output"
    return np.concatenate([np.asarray(x, np.int8) for x in inputs], axis=axis)


def quantize(x: np.ndarray, output: Quant) -> np.ndarray:
    """reference_ops::AffineQuantize, float32 -> int8: roundf(x / scale) in float32, ties away from zero,
    plus the zero point, clamped. A quotient beyond int32 is saturated here; in C its conversion is
    undefined (x86 gives INT32_MIN, so -128 even for a large positive x; ARM saturates)."""
    quotient = round_half_away(np.asarray(x, np.float32) / _f32(output.scale)).astype(np.float64)
    return np.clip(np.clip(quotient, INT32_MIN, INT32_MAX) + output.zero_point, INT8_MIN, INT8_MAX).astype(np.int8)


def dequantize(x: np.ndarray, input: Quant) -> np.ndarray:
    """reference_ops::Dequantize, int8 -> float32: (double)scale * (q - zero_point), rounded to float."""
    return (float(_f32(input.scale)) * (x.astype(np.float64) - input.zero_point)).astype(np.float32)


# --------------------------------------------------------------------------------------------------
# A whole .tflite file


@dataclass(frozen=True)
class TensorInfo:
    shape: tuple[int, ...]
    scales: np.ndarray  # float32; one per tensor, or per channel along quantized_dimension
    zero_points: np.ndarray  # int64
    data: np.ndarray | None  # a constant, typed; None for an activation

    @property
    def quant(self) -> Quant:
        return Quant(float(self.scales[0]), int(self.zero_points[0]))


_STORED_AS = {tflite.TensorType.FLOAT32: "<f4", tflite.TensorType.INT8: "i1", tflite.TensorType.INT32: "<i4",
              tflite.TensorType.INT64: "<i8", tflite.TensorType.UINT8: "u1", tflite.TensorType.INT16: "<i2"}
_ACTIVATIONS: dict[int, Activation] = {
    tflite.ActivationFunctionType.NONE: "none", tflite.ActivationFunctionType.RELU: "relu",
    tflite.ActivationFunctionType.RELU_N1_TO_1: "relu_n1_to_1", tflite.ActivationFunctionType.RELU6: "relu6"}
_PADDINGS: dict[int, Padding] = {tflite.Padding.SAME: "same", tflite.Padding.VALID: "valid"}
_OP = tflite.BuiltinOperator


def _tensor_info(model: tflite.Model, tensor: tflite.Tensor) -> TensorInfo:
    q = tensor.Quantization()
    scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.ones(1, np.float32)
    zero_points = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(1, np.int64)
    buffer = model.Buffers(tensor.Buffer())
    data = None
    if buffer is not None and buffer.DataLength():
        data = np.frombuffer(buffer.DataAsNumpy().tobytes(), _STORED_AS[tensor.Type()]).reshape(tensor.ShapeAsNumpy())
    shape = tuple(int(d) for d in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
    return TensorInfo(shape, np.asarray(scales, np.float32), np.asarray(zero_points, np.int64), data)


def _options(op: tflite.Operator, kind: type) -> object:
    options = kind()
    table = op.BuiltinOptions()
    options.Init(table.Bytes, table.Pos)
    return options


def _image(x: np.ndarray) -> np.ndarray:
    """An NHWC tensor of batch 1 as HWC."""
    assert x.ndim == 4 and x.shape[0] == 1, f"batch 1 NHWC expected, got shape {x.shape}"
    return x[0]


def _run_operator(code: int, op: tflite.Operator, args: list[np.ndarray | None], infos: list[TensorInfo | None],
                  out: TensorInfo) -> np.ndarray:
    """One operator of the file on the values of its inputs."""
    if code in (_OP.CONV_2D, _OP.DEPTHWISE_CONV_2D):
        depthwise = code == _OP.DEPTHWISE_CONV_2D
        o = _options(op, tflite.DepthwiseConv2DOptions if depthwise else tflite.Conv2DOptions)
        geometry = dict(stride=(o.StrideH(), o.StrideW()), dilation=(o.DilationHFactor(), o.DilationWFactor()),
                        padding=_PADDINGS[o.Padding()], activation=_ACTIVATIONS[o.FusedActivationFunction()])
        x, weights = infos[0], infos[1]
        assert x is not None and weights is not None and args[1] is not None
        common = (_image(args[0]), args[1], args[2], x.quant, weights.scales, out.quant)
        if depthwise:
            return depthwise_conv2d(*common, depth_multiplier=o.DepthMultiplier(), **geometry)[None]
        return conv2d(*common, **geometry)[None]
    if code == _OP.FULLY_CONNECTED:
        o = _options(op, tflite.FullyConnectedOptions)
        x, weights = infos[0], infos[1]
        assert x is not None and weights is not None and args[1] is not None
        result = fully_connected(args[0], args[1], args[2], x.quant, weights.scales, out.quant,
                                 int(weights.zero_points[0]), _ACTIVATIONS[o.FusedActivationFunction()])
        return result.reshape(out.shape)
    if code in (_OP.AVERAGE_POOL_2D, _OP.MAX_POOL_2D):
        o = _options(op, tflite.Pool2DOptions)
        pool = average_pool if code == _OP.AVERAGE_POOL_2D else max_pool
        return pool(_image(args[0]), (o.FilterHeight(), o.FilterWidth()), (o.StrideH(), o.StrideW()),
                    _PADDINGS[o.Padding()], _ACTIVATIONS[o.FusedActivationFunction()], out.quant)[None]
    if code in (_OP.ADD, _OP.SUB, _OP.MUL):
        kind = {_OP.ADD: (tflite.AddOptions, add), _OP.SUB: (tflite.SubOptions, sub), _OP.MUL: (tflite.MulOptions, mul)}
        options_kind, function = kind[code]
        o = _options(op, options_kind)
        a, b = infos[0], infos[1]
        assert a is not None and b is not None
        return function(args[0], args[1], a.quant, b.quant, out.quant, _ACTIVATIONS[o.FusedActivationFunction()])
    if code == _OP.SOFTMAX:
        x = infos[0]
        assert x is not None
        return softmax(args[0], x.quant, _options(op, tflite.SoftmaxOptions).Beta())
    if code == _OP.RESHAPE:
        return np.asarray(args[0]).reshape(out.shape)
    if code == _OP.CONCATENATION:
        o = _options(op, tflite.ConcatenationOptions)
        assert o.FusedActivationFunction() == tflite.ActivationFunctionType.NONE
        quants = [info.quant for info in infos if info is not None]
        return concatenation([a for a in args if a is not None], quants, out.quant, o.Axis())
    if code == _OP.QUANTIZE:
        return quantize(args[0], out.quant)
    if code == _OP.DEQUANTIZE:
        x = infos[0]
        assert x is not None
        return dequantize(args[0], x.quant)
    raise NotImplementedError(f"no int8 reference for builtin operator {code}")


def run_model_tensors(path: Path, x: np.ndarray) -> tuple[dict[int, np.ndarray], int]:
    """Every tensor the file's operators compute for input x (its first input, in the file's shape and
    type), by index, through the references above, scales, zero points and options read from the file;
    and the index of the file's first output."""
    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    infos = [_tensor_info(model, graph.Tensors(i)) for i in range(graph.TensorsLength())]
    constants = {i: info.data for i, info in enumerate(infos) if info.data is not None}
    values: dict[int, np.ndarray] = {int(graph.Inputs(0)): np.asarray(x)}
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        opcode = model.OperatorCodes(op.OpcodeIndex())
        code = max(opcode.BuiltinCode(), opcode.DeprecatedBuiltinCode())
        inputs = [int(i) for i in op.InputsAsNumpy()]
        args = [None if i < 0 else constants[i] if i in constants else values[i] for i in inputs]
        arg_infos = [infos[i] if i >= 0 else None for i in inputs]
        output = int(op.Outputs(0))
        values[output] = _run_operator(code, op, args, arg_infos, infos[output])
    return values, int(graph.Outputs(0))


def run_model(path: Path, x: np.ndarray) -> np.ndarray:
    """The file's first output for input x (see run_model_tensors)."""
    values, output = run_model_tensors(path, x)
    return values[output]


def _litert_run(model: Path | bytes, x: np.ndarray, reference_kernels: bool, keep_all_tensors: bool) -> Any:
    """A LiteRT interpreter that has run a file (or a file's bytes) on x (its first input): with its
    reference kernels (the BUILTIN_REF op resolver, the oracle) or its default path (XNNPACK and the
    optimized kernels); keeping every intermediate tensor only when asked, as that is a debugging mode."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    resolver = OpResolverType.BUILTIN_REF if reference_kernels else OpResolverType.AUTO
    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    interpreter = Interpreter(**source, experimental_op_resolver_type=resolver, num_threads=1,
                              experimental_preserve_all_tensors=keep_all_tensors)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return interpreter


def litert_tensors(model: Path | bytes, x: np.ndarray, indices: Sequence[int]) -> dict[int, np.ndarray]:
    """The tensors of those indices after LiteRT's reference kernels ran a file (or its bytes) on x."""
    interpreter = _litert_run(model, x, reference_kernels=True, keep_all_tensors=True)
    return {i: np.array(interpreter.get_tensor(i)) for i in indices}


def litert_output(model: Path | bytes, x: np.ndarray, reference_kernels: bool = True) -> np.ndarray:
    """LiteRT's first output for x: of its reference kernels, or (reference_kernels False) of its
    default path."""
    interpreter = _litert_run(model, x, reference_kernels, keep_all_tensors=False)
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def steps_apart(got: np.ndarray, want: np.ndarray) -> tuple[float, int]:
    """(fraction of equal elements, largest difference in quantization steps) of two int8 outputs."""
    difference = np.abs(got.astype(np.int64) - want.astype(np.int64))
    return float(np.mean(difference == 0)), int(difference.max(initial=0))

"""The int8 reference (tests/reference_int8.py) against LiteRT's reference kernels (BUILTIN_REF), bit for
bit: its rounding primitives on hand-worked values and edge cases, each op on small single-operator int8
files written here (small_harness/models/tflite_writer.py) with seeded data, and every tensor of the
four MLPerf Tiny int8 models."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tflite

import reference_int8 as ref
from reference import case_rng, resolve_padding
from reference_int8 import INT32_MAX, INT32_MIN, Quant
from small_harness.models.mlperf_tiny import INT8_MODELS, MODELS_DIR
from small_harness.models.tflite_writer import (Graph, Operator, Options, Quantization, add_options,
                                                concatenation_options, conv_options, depthwise_conv_options,
                                                fully_connected_options, mul_options, pool_options, reshape_options,
                                                softmax_options, sub_options, write)

OP = tflite.BuiltinOperator
INT8, INT32, FLOAT32 = tflite.TensorType.INT8, tflite.TensorType.INT32, tflite.TensorType.FLOAT32
ACTIVATIONS = {"none": tflite.ActivationFunctionType.NONE, "relu": tflite.ActivationFunctionType.RELU,
               "relu6": tflite.ActivationFunctionType.RELU6,
               "relu_n1_to_1": tflite.ActivationFunctionType.RELU_N1_TO_1}
PADDINGS = {"same": tflite.Padding.SAME, "valid": tflite.Padding.VALID}


# ---- rounding primitives -----------------------------------------------------------------------

def test_round_half_away_from_zero() -> None:
    values = np.array([0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 3.0, -7.25])
    assert ref.round_half_away(values).tolist() == [1, -1, 2, -2, 3, -3, 0, 0, 3, -7]


@pytest.mark.parametrize("real, expected", [
    (0.0, (0, 0)),
    (1.0, (1 << 30, 1)),  # frexp(1) = 0.5 * 2^1
    (0.5, (1 << 30, 0)),
    (0.75, (3 << 29, 0)),
    (300.0, (1258291200, 9)),  # 300 / 512 = 0.5859375
    (0.5 + 2.0 ** -32, ((1 << 30) + 1, 0)),  # a fraction bit 2^-32 is the tie, rounded up
    (1.0 - 2.0 ** -40, (1 << 30, 1)),  # rounds up to 2^31: halved, and the shift grows
    (2.0 ** -31, (1 << 30, -30)),
    (2.0 ** -32, (1 << 30, -31)),  # the smallest shift kept
    (2.0 ** -33, (0, 0)),  # below: flushed to zero
])
def test_quantize_multiplier(real: float, expected: tuple[int, int]) -> None:
    assert ref.quantize_multiplier(real) == expected


def test_quantize_multiplier_is_within_half_a_unit_over_the_whole_shift_range() -> None:
    rng = np.random.default_rng(1)
    for exponent in range(-31, 9):
        for fraction in rng.uniform(0.5, 1.0, 20):
            real = math.ldexp(float(fraction), exponent)
            q, shift = ref.quantize_multiplier(real)
            assert (1 << 30) <= q < (1 << 31) and shift in (exponent, exponent + 1)
            assert abs(Fraction(q) / 2 ** (31 - shift) - Fraction(real)) <= Fraction(1, 2 ** (32 - shift))


def _high_mul_exact(a: int, b: int) -> int:
    """VQRDMULH from its definition: (2ab + 2^31) >> 32, i.e. ties rounded up, saturated."""
    return min((a * b + (1 << 30)) >> 31, INT32_MAX)


def test_saturating_rounding_doubling_high_mul() -> None:
    cases = {(1 << 30, 1 << 30): 1 << 29, (INT32_MIN, INT32_MIN): INT32_MAX, (INT32_MIN, INT32_MAX): -INT32_MAX,
             (INT32_MAX, INT32_MAX): INT32_MAX - 1, (1 << 15, 1 << 15): 1,  # +0.5 -> 1
             (-(1 << 15), 1 << 15): 0,  # -0.5 -> 0: ties go up, not away from zero
             (-3 << 15, 1 << 15): -1, (3 << 15, 1 << 15): 2, (0, INT32_MIN): 0}
    for (a, b), want in cases.items():
        assert int(ref.saturating_rounding_doubling_high_mul(a, b)) == want, (a, b)
    rng = np.random.default_rng(2)
    a = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True), [INT32_MIN, INT32_MAX, -1, 0, 1]])
    b = np.concatenate([rng.integers(INT32_MIN, INT32_MAX, 2000, endpoint=True), [INT32_MIN, INT32_MIN, 1, 5, -1]])
    got = ref.saturating_rounding_doubling_high_mul(a, b)
    assert got.tolist() == [_high_mul_exact(int(x), int(y)) for x, y in zip(a, b)]


def _divide_exact(x: int, exponent: int) -> int:
    """x / 2^exponent to nearest, ties away from zero, from the rational value."""
    quotient = Fraction(x, 1 << exponent)
    magnitude = math.floor(abs(quotient) + Fraction(1, 2))
    return magnitude if quotient >= 0 else -magnitude


@pytest.mark.parametrize("exponent", range(32))
def test_rounding_divide_by_pot_rounds_half_away_from_zero_for_every_exponent(exponent: int) -> None:
    rng = np.random.default_rng(exponent)
    ties = [(2 * k + 1) << (exponent - 1) for k in range(-3, 3)] if exponent else []
    x = np.array([*rng.integers(INT32_MIN, INT32_MAX, 500, endpoint=True), INT32_MIN, INT32_MAX, -1, 0, 1, *ties])
    got = ref.rounding_divide_by_pot(x, exponent)
    assert got.tolist() == [_divide_exact(int(v), exponent) for v in x]


def test_rounding_divide_by_pot_hand_values() -> None:
    assert ref.rounding_divide_by_pot(np.array([5, -5, 3, -3, 7, -7]), 1).tolist() == [3, -3, 2, -2, 4, -4]
    assert int(ref.rounding_divide_by_pot(-1, 31)) == 0 and int(ref.rounding_divide_by_pot(INT32_MIN, 31)) == -1


@pytest.mark.parametrize("x, multiplier, shift, want", [
    (3, 1 << 30, 0, 2),  # 1.5: the high multiply rounds up
    (-3, 1 << 30, 0, -1),  # -1.5: up too, to -1
    (5, 1 << 30, -1, 2),  # 1.25: rounded twice (2.5 -> 3, 1.5 -> 2); once would give 1
    (-5, 1 << 30, -1, -1),  # -1.25: -2.5 -> -2, then -1
    (1000, 1 << 30, 3, 4000),  # 1000 * 8 * 0.5
    (1 << 28, 1 << 30, 4, 0),  # 2^28 << 4 wraps to 0 in int32, as in TFLite
    (INT32_MAX, INT32_MAX, 0, INT32_MAX - 1),
    (INT32_MIN, INT32_MAX, -31, -1),  # the largest right shift
    (12345, 0, 0, 0),
])
def test_multiply_by_quantized_multiplier(x: int, multiplier: int, shift: int, want: int) -> None:
    assert int(ref.multiply_by_quantized_multiplier(x, multiplier, shift)) == want


def test_multiply_by_quantized_multiplier_over_shifts_and_multipliers_at_both_ends() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-(1 << 20), 1 << 20, 300)
    for shift in range(-31, 8):
        for multiplier in (1 << 30, INT32_MAX, 1518500250):
            got = ref.multiply_by_quantized_multiplier(x, multiplier, shift)
            left, right = max(shift, 0), max(-shift, 0)
            shifted = [((int(v) << left) + (1 << 31)) % (1 << 32) - (1 << 31) for v in x]
            want = [_divide_exact(_high_mul_exact(v, multiplier), right) for v in shifted]
            assert got.tolist() == want, shift


def test_requantize_in_double_rounds_half_away_from_zero() -> None:
    acc = np.array([2, -2, 6, -6, 5, 1, INT32_MAX])
    assert ref.requantize_in_double(acc, 0.25).tolist() == [1, -1, 2, -2, 1, 0, 536870912]


def test_activation_ranges_at_zero_points_127_and_minus_128() -> None:
    assert ref.activation_range("relu", Quant(0.1, 127)) == (127, 127)
    assert ref.activation_range("relu", Quant(0.1, -128)) == (-128, 127)
    assert ref.activation_range("relu6", Quant(0.05, -128)) == (-128, -8)  # 6 / 0.05 = 120
    assert ref.activation_range("relu_n1_to_1", Quant(0.25, 3)) == (-1, 7)


def test_fixed_point_exp_and_reciprocal_are_close_to_the_real_functions() -> None:
    a = np.arange(-(31 << 26), 1, 1 << 19)  # Q5.26 from -31 to 0
    exps = ref.exp_on_negative_values(a, 5) / 2.0 ** 31
    assert np.max(np.abs(exps - np.exp(a / 2.0 ** 26))) < 5e-7  # the degree-4 polynomial: (1/8)^5 / 5! = 2.5e-7
    assert int(ref.exp_on_negative_values(0, 5)) == INT32_MAX
    x = np.arange(0, INT32_MAX, 1 << 22)  # Q0.31 in [0, 1)
    assert np.max(np.abs(ref.one_over_one_plus_x_for_x_in_0_1(x) / 2.0 ** 31 - 1 / (1 + x / 2.0 ** 31))) < 1e-8


# ---- single-operator files against BUILTIN_REF --------------------------------------------------

def _quantization(scale: float | np.ndarray, zero_point: int | np.ndarray = 0, dimension: int = 0) -> Quantization:
    scales = tuple(float(s) for s in np.atleast_1d(scale))
    zero_points = tuple(int(z) for z in np.broadcast_to(np.atleast_1d(zero_point), (len(scales),)))
    return Quantization(scales, zero_points, dimension)


TensorSpec = tuple[tuple[int, ...], int, Quantization | None]  # shape, tflite.TensorType, quantization


def _one_operator(code: int, options: Options | None, x: TensorSpec,
                  constants: list[tuple[np.ndarray, int, Quantization | None] | None], y: TensorSpec) -> bytes:
    """A file of one operator: its input x (shape, type, quantization), constant operands (None: an
    absent optional input), output y."""
    g = Graph()
    inputs = [g.tensor("x", x[0], None, x[1], x[2])]
    for index, constant in enumerate(constants):
        if constant is None:
            inputs.append(-1)
            continue
        data, element_type, quantization = constant
        inputs.append(g.tensor(f"c{index}", data.shape, data, element_type, quantization))
    output = g.tensor("y", y[0], None, y[1], y[2])
    g.operators = [Operator(code, inputs, [output], options)]
    g.inputs, g.outputs = [inputs[0]], [output]
    return write(g)


def _int8(rng: np.random.Generator, shape: tuple[int, ...], low: int = -128, high: int = 127) -> np.ndarray:
    return rng.integers(low, high, shape, endpoint=True).astype(np.int8)


def _assert_same(model: bytes, x: np.ndarray, reference: np.ndarray, tmp_path: Path) -> None:
    """The op's reference output, and run_model's on the file, are LiteRT BUILTIN_REF's, bit for bit."""
    want = ref.litert_output(model, x)
    assert reference.dtype == want.dtype and reference.shape == want.shape
    if want.dtype == np.int8:
        equal, steps = ref.steps_apart(reference, want)
        assert np.array_equal(reference, want), f"{equal:.1%} equal, up to {steps} steps apart"
    assert np.array_equal(reference, want), f"{np.mean(reference == want):.1%} equal"
    path = tmp_path / "model.tflite"
    path.write_bytes(model)
    assert np.array_equal(ref.run_model(path, x), want)


def _weight_scales(rng: np.random.Generator, channels: int, span: float) -> np.ndarray:
    """Per-channel weight scales log-uniform over 2^-span .. 2^span times 0.005."""
    return (0.005 * 2.0 ** rng.uniform(-span, span, channels)).astype(np.float32)


# (H, W, C in, C out, kernel, stride, dilation, padding, activation, per-channel span in octaves)
CONV_CASES = [
    (1, 1, 1, 1, (1, 1), (1, 1), (1, 1), "valid", "none", 0),
    (5, 7, 3, 4, (3, 3), (1, 1), (1, 1), "same", "relu", 4),
    (7, 6, 5, 6, (3, 2), (2, 2), (1, 1), "same", "relu6", 8),
    (9, 9, 2, 3, (3, 3), (1, 1), (2, 2), "valid", "none", 2),
    (6, 5, 4, 8, (5, 5), (2, 1), (1, 1), "same", "relu_n1_to_1", 10),
    (4, 11, 16, 5, (1, 1), (1, 3), (1, 1), "valid", "none", 12),
    (8, 8, 3, 2, (3, 3), (3, 3), (2, 1), "same", "relu", 6),
]


def _conv_case_id(case: tuple[Any, ...]) -> str:
    h, w, cin, cout, kernel, stride, dilation, padding, activation, span = case
    return f"{h}x{w}x{cin}-{cout}-k{kernel[0]}x{kernel[1]}-s{stride[0]}x{stride[1]}-d{dilation[0]}x{dilation[1]}-" \
           f"{padding}-{activation}-span{span}"


@pytest.mark.parametrize("zero_points", [(-128, 127), (127, -128), (5, -3)], ids=lambda z: f"zp{z[0]}_{z[1]}")
@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_case_id)
def test_conv2d(case: tuple[Any, ...], zero_points: tuple[int, int], tmp_path: Path) -> None:
    h, w, cin, cout, kernel, stride, dilation, padding, activation, span = case
    rng = case_rng(f"conv-{_conv_case_id(case)}-{zero_points}")
    in_quant, out_quant = Quant(0.02, zero_points[0]), Quant(0.05, zero_points[1])
    x, weights = _int8(rng, (1, h, w, cin)), _int8(rng, (cout, *kernel, cin), -127)
    scales = _weight_scales(rng, cout, span)
    bias = rng.integers(-20000, 20000, cout).astype(np.int32)
    _, out = resolve_padding((h, w), kernel, stride, dilation, padding)
    model = _one_operator(
        OP.CONV_2D, conv_options(PADDINGS[padding], ACTIVATIONS[activation], stride, dilation),
        ((1, h, w, cin), INT8, _quantization(*in_quant)),
        [(weights, INT8, _quantization(scales, 0, 0)), (bias, INT32, _quantization(np.float32(0.02) * scales))],
        ((1, *out, cout), INT8, _quantization(*out_quant)))
    got = ref.conv2d(x[0], weights, bias, in_quant, scales, out_quant, stride, dilation, padding, activation)
    _assert_same(model, x, got[None], tmp_path)


def test_conv2d_multipliers_above_one(tmp_path: Path) -> None:
    """Small accumulators (one input channel, small weights) with multipliers 1/8 .. 8: left shifts."""
    rng = case_rng("conv-multipliers-above-one")
    cout, in_quant, out_quant = 12, Quant(0.5, -7), Quant(0.01, 9)
    x, weights = _int8(rng, (1, 6, 5, 1)), _int8(rng, (cout, 1, 1, 1), -2, 2)
    scales = (0.01 / 0.5 * 2.0 ** np.linspace(-3, 3, cout)).astype(np.float32)  # multipliers 2^-3 .. 2^3
    bias = rng.integers(-300, 300, cout).astype(np.int32)  # LiteRT's int8 conv requires one
    model = _one_operator(OP.CONV_2D, conv_options(), ((1, 6, 5, 1), INT8, _quantization(*in_quant)),
                          [(weights, INT8, _quantization(scales)),
                           (bias, INT32, _quantization(np.float32(0.5) * scales))],
                          ((1, 6, 5, cout), INT8, _quantization(*out_quant)))
    got = ref.conv2d(x[0], weights, bias, in_quant, scales, out_quant)
    assert np.any(ref.channel_multipliers(0.5, scales, 0.01, cout)[1] > 0)
    _assert_same(model, x, got[None], tmp_path)


DEPTHWISE_CASES = [
    (1, 1, 1, (1, 1), (1, 1), (1, 1), "valid", "none", 1),
    (6, 7, 5, (3, 3), (1, 1), (1, 1), "same", "relu6", 1),
    (9, 8, 4, (3, 3), (2, 2), (1, 1), "same", "relu", 1),
    (10, 9, 3, (3, 3), (1, 1), (2, 3), "same", "none", 1),
    (7, 5, 3, (5, 3), (2, 1), (1, 1), "valid", "none", 2),
    (5, 5, 8, (3, 3), (1, 1), (1, 1), "same", "relu_n1_to_1", 3),
]


def test_grouped_conv2d(tmp_path: Path) -> None:
    """Weights with half the input's channels: two groups of three outputs each."""
    rng = case_rng("conv-grouped")
    in_quant, out_quant = Quant(0.02, 3), Quant(0.05, -2)
    x, weights = _int8(rng, (1, 5, 6, 4)), _int8(rng, (6, 3, 3, 2), -127)
    scales = _weight_scales(rng, 6, 4)
    bias = rng.integers(-2000, 2000, 6).astype(np.int32)
    model = _one_operator(OP.CONV_2D, conv_options(tflite.Padding.SAME), ((1, 5, 6, 4), INT8, _quantization(*in_quant)),
                          [(weights, INT8, _quantization(scales)),
                           (bias, INT32, _quantization(np.float32(0.02) * scales))],
                          ((1, 5, 6, 6), INT8, _quantization(*out_quant)))
    _assert_same(model, x, ref.conv2d(x[0], weights, bias, in_quant, scales, out_quant, padding="same")[None], tmp_path)


def _depthwise_id(case: tuple[Any, ...]) -> str:
    h, w, c, kernel, stride, dilation, padding, activation, multiplier = case
    return f"{h}x{w}x{c}-k{kernel[0]}x{kernel[1]}-s{stride[0]}x{stride[1]}-d{dilation[0]}x{dilation[1]}-{padding}-" \
           f"{activation}-m{multiplier}"


@pytest.mark.parametrize("zero_points", [(-128, 127), (127, -128)], ids=lambda z: f"zp{z[0]}_{z[1]}")
@pytest.mark.parametrize("case", DEPTHWISE_CASES, ids=_depthwise_id)
def test_depthwise_conv2d(case: tuple[Any, ...], zero_points: tuple[int, int],
                          tmp_path: Path) -> None:
    h, w, c, kernel, stride, dilation, padding, activation, multiplier = case
    rng = case_rng(f"depthwise-{_depthwise_id(case)}-{zero_points}")
    cout = c * multiplier
    in_quant, out_quant = Quant(0.03, zero_points[0]), Quant(0.04, zero_points[1])
    x, weights = _int8(rng, (1, h, w, c)), _int8(rng, (1, *kernel, cout), -127)
    scales = _weight_scales(rng, cout, 8)
    bias = rng.integers(-5000, 5000, cout).astype(np.int32)
    _, out = resolve_padding((h, w), kernel, stride, dilation, padding)
    model = _one_operator(
        OP.DEPTHWISE_CONV_2D,
        depthwise_conv_options(PADDINGS[padding], ACTIVATIONS[activation], stride, dilation, multiplier),
        ((1, h, w, c), INT8, _quantization(*in_quant)),
        [(weights, INT8, _quantization(scales, 0, 3)), (bias, INT32, _quantization(np.float32(0.03) * scales))],
        ((1, *out, cout), INT8, _quantization(*out_quant)))
    got = ref.depthwise_conv2d(x[0], weights, bias, in_quant, scales, out_quant, stride, dilation, padding, activation,
                               multiplier)
    _assert_same(model, x, got[None], tmp_path)


@pytest.mark.parametrize("rows, depth, outputs, per_channel, activation", [
    (1, 1, 1, False, "none"), (1, 640, 128, False, "relu"), (3, 37, 10, False, "relu6"),
    (1, 50, 17, True, "none"), (2, 9, 33, True, "relu"),
])
def test_fully_connected(rows: int, depth: int, outputs: int, per_channel: bool, activation: str,
                         tmp_path: Path) -> None:
    rng = case_rng(f"fc-{rows}-{depth}-{outputs}-{per_channel}-{activation}")
    in_quant, out_quant = Quant(0.07, -128), Quant(0.3, 127 if activation == "none" else -20)
    x, weights = _int8(rng, (rows, depth)), _int8(rng, (outputs, depth), -127)
    scales = _weight_scales(rng, outputs if per_channel else 1, 6)
    bias = rng.integers(-20000, 20000, outputs).astype(np.int32)
    model = _one_operator(OP.FULLY_CONNECTED, fully_connected_options(ACTIVATIONS[activation]),
                          ((rows, depth), INT8, _quantization(*in_quant)),
                          [(weights, INT8, _quantization(scales)),
                           (bias, INT32, _quantization(np.float32(0.07) * scales))],
                          ((rows, outputs), INT8, _quantization(*out_quant)))
    got = ref.fully_connected(x, weights, bias, in_quant, scales, out_quant, activation=activation)
    _assert_same(model, x, got, tmp_path)


@pytest.mark.parametrize("per_channel", [False, True])
def test_fully_connected_requantizes_in_double_not_in_fixed_point(per_channel: bool,
                                                                  tmp_path: Path) -> None:
    """With scales 1/2, 1/2, 1 (multiplier 1/4) and accumulators -20 .. 20, conv's fixed-point
    requantization and FC's double one disagree (1 -> 0.25 rounds to 1 twice, to 0 once; 5 -> 1.25 to
    2 and 1): LiteRT 2.3.0's reference FULLY_CONNECTED is the double one."""
    x = np.arange(-20, 21, dtype=np.int8).reshape(-1, 1)
    weights, scales = np.ones((1, 1), np.int8), np.full(1, 0.5, np.float32)
    model = _one_operator(OP.FULLY_CONNECTED, fully_connected_options(), ((41, 1), INT8, _quantization(0.5)),
                          [(weights, INT8, _quantization(scales if per_channel else 0.5)), None],
                          ((41, 1), INT8, _quantization(1.0)))
    in_double = ref.fully_connected(x, weights, None, Quant(0.5, 0), scales, Quant(1.0, 0))
    in_fixed_point = np.clip(ref.multiply_by_quantized_multiplier(x.astype(np.int64), 1 << 30, -1), -128, 127)
    assert not np.array_equal(in_double, in_fixed_point)
    _assert_same(model, x, in_double, tmp_path)


POOL_CASES = [
    ((1, 1, 1), (1, 1), (1, 1), "valid", "none"),
    ((7, 6, 5), (3, 3), (1, 1), "same", "none"),
    ((9, 7, 3), (3, 2), (2, 2), "same", "relu6"),
    ((8, 8, 4), (2, 2), (2, 2), "valid", "relu"),
    ((5, 9, 2), (5, 9), (1, 1), "valid", "none"),  # a global pool
    ((6, 5, 3), (4, 4), (3, 2), "same", "relu_n1_to_1"),
]


@pytest.mark.parametrize("zero_point", [-128, 127, 4])
@pytest.mark.parametrize("case", POOL_CASES, ids=lambda c: "x".join(map(str, c[0])) + f"-k{c[1]}-s{c[2]}-{c[3]}-{c[4]}")
@pytest.mark.parametrize("kind", ["average", "max"])
def test_pool(kind: str, case: tuple[Any, ...], zero_point: int, tmp_path: Path) -> None:
    shape, filter_size, stride, padding, activation = case
    rng = case_rng(f"pool-{kind}-{case}-{zero_point}")
    quant = Quant(0.04, zero_point)
    x = _int8(rng, (1, *shape))
    _, out = resolve_padding(shape[:2], filter_size, stride, (1, 1), padding)
    code = OP.AVERAGE_POOL_2D if kind == "average" else OP.MAX_POOL_2D
    model = _one_operator(code, pool_options(filter_size, stride, PADDINGS[padding], ACTIVATIONS[activation]),
                          ((1, *shape), INT8, _quantization(*quant)), [],
                          ((1, *out, shape[2]), INT8, _quantization(*quant)))
    pool = ref.average_pool if kind == "average" else ref.max_pool
    _assert_same(model, x, pool(x[0], filter_size, stride, padding, activation, quant)[None], tmp_path)


# (a shape, b shape, a quant, b quant, out quant, activation): b is a constant operand
ELEMENTWISE_CASES = [
    ((1, 1, 1, 1), (1, 1, 1, 1), Quant(0.1, 0), Quant(0.1, 0), Quant(0.2, 0), "none"),
    ((1, 4, 5, 3), (1, 4, 5, 3), Quant(0.05, -128), Quant(0.15, 127), Quant(0.1, 3), "none"),
    ((1, 3, 3, 7), (1, 3, 3, 7), Quant(0.5, 10), Quant(0.005, -20), Quant(0.3, -128), "relu"),
    ((1, 5, 2, 6), (1, 1, 1, 6), Quant(0.02, 127), Quant(0.07, -5), Quant(0.04, 127), "relu6"),
    ((2, 33), (2, 33), Quant(1.0, -1), Quant(1.0, 2), Quant(0.002, 0), "relu_n1_to_1"),
]


def _elementwise_id(case: tuple[Any, ...]) -> str:
    a, b, qa, qb, qo, activation = case
    return f"{'x'.join(map(str, a))}-{'x'.join(map(str, b))}-{qa.scale}_{qb.scale}_{qo.scale}-{activation}"


@pytest.mark.parametrize("case", ELEMENTWISE_CASES, ids=_elementwise_id)
@pytest.mark.parametrize("kind", ["add", "sub", "mul"])
def test_elementwise(kind: str, case: tuple[Any, ...], tmp_path: Path) -> None:
    a_shape, b_shape, qa, qb, qo, activation = case
    if kind == "mul":  # keep the product's multiplier in a range where outputs do not all saturate
        qo = Quant(qa.scale * qb.scale * 40, qo.zero_point)
    rng = case_rng(f"{kind}-{_elementwise_id(case)}")
    a, b = _int8(rng, a_shape), _int8(rng, b_shape)
    code, options, function = {"add": (OP.ADD, add_options, ref.add), "sub": (OP.SUB, sub_options, ref.sub),
                               "mul": (OP.MUL, mul_options, ref.mul)}[kind]
    model = _one_operator(code, options(ACTIVATIONS[activation]), (a_shape, INT8, _quantization(*qa)),
                          [(b, INT8, _quantization(*qb))], (a_shape, INT8, _quantization(*qo)))
    _assert_same(model, a, function(a, b, qa, qb, qo, activation), tmp_path)


def test_mul_multiplier_above_one(tmp_path: Path) -> None:
    rng = case_rng("mul-above-one")
    qa, qb, qo = Quant(0.1, 0), Quant(0.2, 1), Quant(0.004, -3)  # multiplier 5
    a, b = _int8(rng, (1, 4, 4, 3), -6, 6), _int8(rng, (1, 4, 4, 3), -5, 7)
    model = _one_operator(OP.MUL, mul_options(), ((1, 4, 4, 3), INT8, _quantization(*qa)),
                          [(b, INT8, _quantization(*qb))], ((1, 4, 4, 3), INT8, _quantization(*qo)))
    _assert_same(model, a, ref.mul(a, b, qa, qb, qo), tmp_path)


@pytest.mark.parametrize("shape", [(1, 1), (1, 2), (1, 10), (3, 33), (1, 3, 4, 7)], ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("input_scale, beta", [(1 / 16, 1.0), (0.1, 1.0), (0.003, 1.0), (1.0, 1.0), (40.0, 1.0),
                                               (0.25, 0.5)])
def test_softmax(shape: tuple[int, ...], input_scale: float, beta: float, tmp_path: Path) -> None:
    rng = case_rng(f"softmax-{shape}-{input_scale}-{beta}")
    quant = Quant(input_scale, 7)
    x = _int8(rng, shape)
    model = _one_operator(OP.SOFTMAX, softmax_options(beta), (shape, INT8, _quantization(*quant)), [],
                          (shape, INT8, _quantization(1 / 256, -128)))
    _assert_same(model, x, ref.softmax(x, quant, beta), tmp_path)


def test_softmax_of_equal_and_extreme_rows(tmp_path: Path) -> None:
    x = np.array([[5] * 12, [-128] * 11 + [127], [127] * 6 + [-128] * 6, list(range(-128, 128, 22))], np.int8)
    quant = Quant(0.05, 0)
    model = _one_operator(OP.SOFTMAX, softmax_options(), (x.shape, INT8, _quantization(*quant)), [],
                          (x.shape, INT8, _quantization(1 / 256, -128)))
    _assert_same(model, x, ref.softmax(x, quant), tmp_path)


@pytest.mark.parametrize("input_scale", [1 / 16, 0.1, 0.5])
def test_softmax_over_many_rows(input_scale: float, tmp_path: Path) -> None:
    """Enough rows (2000 x 16) to meet many of the rounding boundaries of the 8-bit output."""
    x = _int8(case_rng(f"softmax-rows-{input_scale}"), (2000, 16))
    quant = Quant(input_scale, 0)
    model = _one_operator(OP.SOFTMAX, softmax_options(), (x.shape, INT8, _quantization(*quant)), [],
                          (x.shape, INT8, _quantization(1 / 256, -128)))
    _assert_same(model, x, ref.softmax(x, quant), tmp_path)


def test_reshape(tmp_path: Path) -> None:
    x = _int8(case_rng("reshape"), (1, 2, 3, 4))
    shape = np.array([1, 24], np.int32)
    model = _one_operator(OP.RESHAPE, reshape_options((1, 24)), ((1, 2, 3, 4), INT8, _quantization(0.1, 3)),
                          [(shape, INT32, None)], ((1, 24), INT8, _quantization(0.1, 3)))
    _assert_same(model, x, x.reshape(1, 24), tmp_path)


@pytest.mark.parametrize("axis", [-1, 1, 3])
def test_concatenation(axis: int, tmp_path: Path) -> None:
    rng = case_rng(f"concat-{axis}")
    quant = Quant(0.06, -9)
    a_shape = (1, 3, 2, 5)
    b_shape = tuple(4 if d == axis % 4 else s for d, s in enumerate(a_shape))
    a, b = _int8(rng, a_shape), _int8(rng, b_shape)
    want = np.concatenate([a, b], axis)
    model = _one_operator(OP.CONCATENATION, concatenation_options(axis), (a_shape, INT8, _quantization(*quant)),
                          [(b, INT8, _quantization(*quant))], (want.shape, INT8, _quantization(*quant)))
    _assert_same(model, a, ref.concatenation([a, b], [quant, quant], quant, axis), tmp_path)


def test_concatenation_of_other_scales_is_refused_as_litert_does() -> None:
    a, b = np.zeros((1, 2), np.int8), np.zeros((1, 2), np.int8)
    model = _one_operator(OP.CONCATENATION, concatenation_options(1), ((1, 2), INT8, _quantization(0.1)),
                          [(b, INT8, _quantization(0.2))], ((1, 4), INT8, _quantization(0.1)))
    with pytest.raises(RuntimeError):
        ref.litert_output(model, a)
    with pytest.raises(AssertionError):
        ref.concatenation([a, b], [Quant(0.1, 0), Quant(0.2, 0)], Quant(0.1, 0), 1)


@pytest.mark.parametrize("quant", [Quant(0.5, -128), Quant(0.5, 127), Quant(0.0137, 3)], ids=str)
def test_quantize(quant: Quant, tmp_path: Path) -> None:
    rng = case_rng(f"quantize-{quant}")
    ties = (np.arange(-300, 300) + 0.5) * np.float32(quant.scale)  # exact halves of a step when scale is 1/2
    # x / scale beyond int32 is left out: C leaves its conversion undefined (see ref.quantize).
    x = np.concatenate([ties, rng.uniform(-200, 200, 400), [0.0, -0.0, 1e6, -1e6]]).astype(np.float32)[None]
    model = _one_operator(OP.QUANTIZE, None, (x.shape, FLOAT32, None), [],
                          (x.shape, INT8, _quantization(*quant)))
    _assert_same(model, x, ref.quantize(x, quant), tmp_path)


@pytest.mark.parametrize("quant", [Quant(0.0137, -128), Quant(3.3e-5, 127), Quant(0.1, 0)], ids=str)
def test_dequantize(quant: Quant, tmp_path: Path) -> None:
    x = np.arange(-128, 128, dtype=np.int8)[None]
    model = _one_operator(OP.DEQUANTIZE, None, (x.shape, INT8, _quantization(*quant)), [],
                          (x.shape, FLOAT32, None))
    _assert_same(model, x, ref.dequantize(x, quant), tmp_path)


# ---- the MLPerf Tiny int8 models ---------------------------------------------------------------

@pytest.mark.skipif(not MODELS_DIR.is_dir(), reason=f"no MLPerf Tiny models at {MODELS_DIR}")
@pytest.mark.parametrize("name", INT8_MODELS)
def test_real_model_every_tensor_is_builtin_ref_s(name: str) -> None:
    """Every tensor of the model, not its output alone (a softmax hides most differences), on two
    seeded inputs."""
    path = MODELS_DIR / f"{name}.tflite"
    graph = tflite.Model.GetRootAsModel(path.read_bytes(), 0).Subgraphs(0)
    shape = tuple(graph.Tensors(graph.Inputs(0)).ShapeAsNumpy())
    for seed in range(2):
        x = _int8(np.random.default_rng(seed), shape)
        got, _ = ref.run_model_tensors(path, x)
        want = ref.litert_tensors(path, x, list(got))
        differing = {index: ref.steps_apart(got[index], want[index]) for index in got
                     if not np.array_equal(got[index], want[index])}
        assert not differing, f"seed {seed}: tensors (fraction equal, steps apart): {differing}"

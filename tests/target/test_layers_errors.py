"""Layers the C library must refuse, each with its status and a reason, and a runner that keeps
serving afterwards; inputs that are not HWC arrays, refused in Python before anything reaches C."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

import reference as ref
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo, SmallError

Shape = tuple[int, int, int]


@dataclass(frozen=True)
class ErrorCase:
    name: str
    layer: L.Layer
    inputs: tuple[Shape, ...]
    status: str | tuple[str, ...]  # the status, or those it may be (where the word size decides which check fires)
    weights: tuple[int, ...] | None = None  # weight array shape; None sends no weights
    bias: int | None = None  # bias length

    def __str__(self) -> str:
        return self.name


SHAPE, PARAM, NULL, NOMEM = "SMALL_ERR_SHAPE", "SMALL_ERR_PARAM", "SMALL_ERR_NULL", "SMALL_ERR_NOMEM"
INT_MAX = 2**31 - 1

ERROR_CASES = [
    # Empty tensors.
    ErrorCase("conv-zero-input-channels", L.Conv2D(4, (3, 3)), ((5, 5, 0),), SHAPE, (4, 3, 3, 0), 4),
    ErrorCase("conv-zero-output-channels", L.Conv2D(0, (3, 3)), ((5, 5, 3),), SHAPE, (0, 3, 3, 3)),
    ErrorCase("dwconv-zero-channels", L.Conv2D(0, (3, 3), groups=0), ((5, 5, 0),), SHAPE, (0, 3, 3, 1)),
    ErrorCase("fc-zero-output-channels", L.FullyConnected(0), ((2, 2, 3),), SHAPE, (0, 12)),
    ErrorCase("maxpool-zero-input-channels", L.MaxPool((2, 2)), ((4, 4, 0),), SHAPE),
    ErrorCase("add-zero-height", L.Add(), ((0, 3, 2), (0, 3, 2)), SHAPE),
    # Strides and dilations below 1.
    ErrorCase("conv-stride-0", L.Conv2D(4, (3, 3), stride=(0, 1)), ((5, 5, 3),), PARAM, (4, 3, 3, 3)),
    ErrorCase("conv-stride-w-0", L.Conv2D(4, (3, 3), stride=(1, 0), padding="same"), ((5, 5, 3),), PARAM,
              (4, 3, 3, 3)),
    ErrorCase("dwconv-stride-0", L.Conv2D(3, (3, 3), stride=(0, 0), groups=3), ((5, 5, 3),), PARAM, (3, 3, 3, 1)),
    ErrorCase("maxpool-stride-0", L.MaxPool((2, 2), stride=(0, 2)), ((4, 4, 2),), PARAM),
    ErrorCase("avgpool-stride-0", L.AvgPool((2, 2), stride=(2, 0)), ((4, 4, 2),), PARAM),
    ErrorCase("conv-dilation-0", L.Conv2D(4, (3, 3), dilation=(0, 1)), ((5, 5, 3),), PARAM, (4, 3, 3, 3)),
    ErrorCase("conv-dilation-w-0", L.Conv2D(4, (3, 3), dilation=(1, 0), padding="same"), ((5, 5, 3),), PARAM,
              (4, 3, 3, 3)),
    # Windows larger than the (padded) input.
    ErrorCase("conv-kernel-larger-valid", L.Conv2D(2, (5, 5)), ((3, 3, 2),), SHAPE, (2, 5, 5, 2)),
    ErrorCase("conv-kernel-larger-explicit", L.Conv2D(2, (5, 5), padding=(1, 0, 1, 0)), ((3, 3, 2),), SHAPE,
              (2, 5, 5, 2)),
    ErrorCase("conv-kernel-wider-explicit", L.Conv2D(2, (1, 5), padding=(4, 4, 1, 1)), ((3, 2, 2),), SHAPE,
              (2, 1, 5, 2)),
    ErrorCase("conv-dilated-window-larger", L.Conv2D(2, (3, 3), dilation=(2, 2)), ((4, 6, 2),), SHAPE, (2, 3, 3, 2)),
    ErrorCase("maxpool-kernel-larger-valid", L.MaxPool((4, 4)), ((3, 3, 2),), SHAPE),
    ErrorCase("avgpool-kernel-larger-explicit", L.AvgPool((5, 5), padding=(1, 1, 1, 1)), ((2, 2, 2),), SHAPE),
    # Groups.
    ErrorCase("conv-groups-not-dividing-input", L.Conv2D(4, (1, 1), groups=2), ((3, 3, 3),), SHAPE, (4, 1, 1, 1)),
    ErrorCase("conv-groups-not-dividing-output", L.Conv2D(3, (1, 1), groups=2), ((3, 3, 4),), SHAPE, (3, 1, 1, 2)),
    ErrorCase("conv-groups-0", L.Conv2D(4, (1, 1), groups=0), ((3, 3, 4),), SHAPE, (4, 1, 1, 4)),
    ErrorCase("conv-groups-negative", L.Conv2D(4, (1, 1), groups=-2), ((3, 3, 4),), SHAPE, (4, 1, 1, 2)),
    # Inputs that do not fit together.
    ErrorCase("add-mismatched-channels", L.Add(), ((2, 3, 4), (2, 3, 5)), SHAPE),
    ErrorCase("add-mismatched-height-width", L.Add(), ((2, 3, 4), (3, 2, 4)), SHAPE),
    ErrorCase("concat-mismatched-heights", L.Concat(), ((2, 3, 4), (3, 3, 4)), SHAPE),
    ErrorCase("concat-mismatched-widths", L.Concat(), ((2, 3, 4), (2, 3, 1), (2, 4, 1)), SHAPE),
    ErrorCase("reshape-different-size", L.Reshape((5, 5, 1)), ((2, 3, 4),), SHAPE),
    ErrorCase("reshape-empty", L.Reshape((0, 24, 1)), ((2, 3, 4),), SHAPE),
    ErrorCase("reshape-negative", L.Reshape((-1, -24, 1)), ((2, 3, 4),), SHAPE),
    # Pool padding must leave every window a real pixel.
    ErrorCase("maxpool-padding-equal-kernel", L.MaxPool((3, 3), padding=(3, 0, 0, 0)), ((5, 5, 2),), PARAM),
    ErrorCase("avgpool-padding-above-kernel", L.AvgPool((2, 2), padding=(0, 0, 0, 3)), ((5, 5, 2),), PARAM),
    ErrorCase("avgpool-padding-equal-kernel-w", L.AvgPool((3, 2), padding=(1, 1, 2, 0)), ((5, 5, 2),), PARAM),
    # Negative padding.
    ErrorCase("conv-negative-padding", L.Conv2D(2, (3, 3), padding=(-1, 0, 0, 0)), ((5, 5, 2),), PARAM,
              (2, 3, 3, 2)),
    ErrorCase("conv-negative-padding-right", L.Conv2D(2, (3, 3), padding=(1, 1, 1, -1)), ((5, 5, 2),), PARAM,
              (2, 3, 3, 2)),
    ErrorCase("maxpool-negative-padding", L.MaxPool((3, 3), padding=(0, -1, 0, 0)), ((5, 5, 2),), PARAM),
    ErrorCase("avgpool-negative-padding", L.AvgPool((3, 3), padding=(0, 0, -1, 0)), ((5, 5, 2),), PARAM),
    # Input counts and missing weights.
    ErrorCase("add-one-input", L.Add(), ((2, 3, 4),), PARAM),
    ErrorCase("add-three-inputs", L.Add(), ((2, 3, 4),) * 3, PARAM),
    ErrorCase("softmax-two-inputs", L.Softmax(), ((2, 3, 4),) * 2, PARAM),
    ErrorCase("conv-without-weights", L.Conv2D(2, (3, 3)), ((5, 5, 2),), NULL),
    ErrorCase("fc-without-weights", L.FullyConnected(2), ((2, 2, 2),), NULL),
    # Weight and bias arrays that do not hold what the layer reads (checked by the runner).
    ErrorCase("conv-weights-too-short", L.Conv2D(5, (3, 3), padding="same"), ((4, 4, 3),), SHAPE, (1,), 5),
    ErrorCase("conv-weights-too-long", L.Conv2D(2, (1, 1)), ((4, 4, 3),), SHAPE, (2, 1, 1, 4), 2),
    ErrorCase("conv-bias-too-short", L.Conv2D(5, (3, 3), padding="same"), ((4, 4, 3),), SHAPE, (5, 3, 3, 3), 2),
    ErrorCase("fc-weights-too-short", L.FullyConnected(3), ((2, 2, 2),), SHAPE, (3, 7), 3),
    ErrorCase("fc-bias-too-long", L.FullyConnected(3), ((2, 2, 2),), SHAPE, (3, 8), 4),
    # Sizes whose products wrap in 32 bits (they once planned, then crashed): refused with their true
    # values. A 64-bit runner finds the weights short first; a 32-bit one the weights' size.
    ErrorCase("conv-huge-same-kernel", L.Conv2D(2, (65536, 65536), padding="same"), ((4, 4, 1),), (SHAPE, NOMEM),
              (1,)),
    ErrorCase("conv-dilation-int-max-same", L.Conv2D(2, (3, 3), dilation=(INT_MAX, INT_MAX), padding="same"),
              ((4, 4, 1),), SHAPE, (2, 3, 3, 1)),
    ErrorCase("conv-dilation-int-max-valid", L.Conv2D(2, (3, 3), dilation=(INT_MAX, 1)), ((4, 4, 1),), SHAPE,
              (2, 3, 3, 1)),
    ErrorCase("conv-padding-int-max", L.Conv2D(2, (1, 1), padding=(INT_MAX, 0, 0, 0)), ((4, 4, 1),), SHAPE,
              (2, 1, 1, 1)),
    ErrorCase("conv-stride-int-max-dilation-wide-row", L.Conv2D(2, (1, 3), dilation=(1, 2**30)), ((2, 3, 4),), SHAPE,
              (2, 1, 3, 4)),
    ErrorCase("fc-int-max-outputs", L.FullyConnected(INT_MAX), ((2, 2, 2),), (SHAPE, NOMEM), (1,)),
    ErrorCase("maxpool-huge-same-window", L.MaxPool((2**30, 2**30), padding="same"), ((4, 4, 1),), SHAPE),
    # A stride of INT_MAX once overflowed the nest's interior bound (ceil_div): the pool planned, then
    # read 52 bytes before its input. Strides are bounded as the padded extent is.
    ErrorCase("maxpool-stride-int-max-same", L.MaxPool((8, 33), stride=(8, INT_MAX), padding="same"), ((8, 7, 2),),
              PARAM),
    ErrorCase("conv-stride-int-max-valid", L.Conv2D(2, (1, 1), stride=(INT_MAX, 1)), ((4, 4, 1),), PARAM,
              (2, 1, 1, 1)),
]


def check_runner_still_serves(runner: Runner, runner_info: RunnerInfo) -> None:
    """A valid layer right after the error is served, and correctly: the process survived and kept
    no state of the refused layer."""
    rng = ref.case_rng("after-error")
    x = ref.uniform(rng, (4, 5, 3), 3.0)
    weights = ref.uniform(rng, (6, 3, 3, 3), 1.0)
    bias = ref.uniform(rng, (6,), 1.0)
    layer = L.Conv2D(6, (3, 3), padding="same", activation="relu")
    result = runner.run(layer, [x], weights, bias)
    ref.assert_kernel(result, runner_info, "conv", 6)
    ref.assert_matches(result.output, ref.conv2d(layer, x, weights, bias), "valid conv after an error")


@pytest.mark.parametrize("case", ERROR_CASES, ids=str)
def test_refused(runner: Runner, runner_info: RunnerInfo, case: ErrorCase) -> None:
    inputs = [np.ones(shape, dtype=np.float32) for shape in case.inputs]
    weights = None if case.weights is None else np.ones(case.weights, dtype=np.float32)
    bias = None if case.bias is None else np.ones(case.bias, dtype=np.float32)
    with pytest.raises(SmallError) as refused:
        runner.run(case.layer, inputs, weights, bias)
    wanted = (case.status,) if isinstance(case.status, str) else case.status
    assert refused.value.status_name in wanted, f"{case}: {refused.value}"
    assert refused.value.message.strip(), f"{case}: {refused.value.status_name} without a reason"
    check_runner_still_serves(runner, runner_info)


NOT_HWC = [
    ("2d-input", L.Activate("relu"), [np.ones((4, 5), np.float32)]),
    ("4d-input", L.Conv2D(2, (1, 1)), [np.ones((1, 4, 5, 3), np.float32)]),
    ("1d-input", L.Softmax(), [np.ones(7, np.float32)]),
    ("scalar-input", L.Activate("relu6"), [np.float32(1.0)]),
    ("add-second-input-2d", L.Add(), [np.ones((2, 3, 4), np.float32), np.ones((6, 4), np.float32)]),
    ("concat-third-input-4d", L.Concat(), [np.ones((2, 3, 4), np.float32)] * 2 + [np.ones((1, 2, 3, 4), np.float32)]),
]


@pytest.mark.parametrize("name, layer, inputs", NOT_HWC, ids=[n for n, _, _ in NOT_HWC])
def test_not_hwc_refused_in_python(runner: Runner, runner_info: RunnerInfo, name: str, layer: L.Layer,
                                   inputs: list[np.ndarray]) -> None:
    served = runner.cases_run
    with pytest.raises(ValueError, match="HWC"):
        runner.run(layer, inputs, np.ones((2, 1, 1, 3), np.float32) if isinstance(layer, L.Conv2D) else None)
    assert runner.cases_run == served, "the request reached the runner"
    check_runner_still_serves(runner, runner_info)

"""Add, Activate, Concat, Reshape and Softmax, checked against the reference: tile edges of the add
and copy kernels, every activation, concatenation of up to the maximum number of inputs, and
softmax of logits that would overflow a naive exp."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import cycle, product
from typing import Literal

import numpy as np
import pytest

import reference as ref
from reference import Edge, Size
from small_harness.runner import layers as L
from small_harness.runner.client import Runner, RunnerInfo

# Pixels along W and channels around the tiles; a 1x1 window keeps every pixel in the interior.
WIDTHS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1, 1), Edge(2, 1))
CHANNELS: tuple[Size, ...] = (1, Edge(1, -1), Edge(1, 1), Edge(2, 1))


def shape_of(h: int, w: Size, c: Size, info: RunnerInfo, kind: str) -> tuple[int, int, int]:
    kernel = info.kernels[kind]
    shape = (h, ref.resolve(w, kernel.pixel_tile), ref.resolve(c, ref.channel_tile(kernel)))
    if min(shape) < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    return shape


# --------------------------------------------------------------------------------------------------
# Add

Data = Literal["uniform", "large", "tiny", "cancel"]


@dataclass(frozen=True)
class AddCase:
    h: int
    w: Size
    c: Size
    activation: L.Activation = "none"
    alpha: float = 0.0
    data: Data = "uniform"  # cancel: b = -a plus a little, the sum loses most of its bits

    def __str__(self) -> str:
        text = (f"add-c{ref.label(self.c, 'T')}-h{self.h}-w{ref.label(self.w, 'P')}-"
                f"{ref.activation_label(self.activation, self.alpha)}")
        return text + ("" if self.data == "uniform" else f"-{self.data}")


ADD_CASES = (
    [AddCase(2, w, c) for w, c in product(WIDTHS, CHANNELS)]
    + [AddCase(2, Edge(1, 1), Edge(1, 1), a, alpha) for a, alpha in ref.ACTIVATIONS if a != "none"]
    + [AddCase(2, Edge(1, 1), Edge(1, 1), data=d) for d in ("large", "tiny", "cancel")]
    + [AddCase(1, Edge(2, 1), Edge(2, 1), "relu6", data="large")]
)


@pytest.mark.parametrize("case", ADD_CASES, ids=str)
def test_add(runner: Runner, runner_info: RunnerInfo, case: AddCase) -> None:
    shape = shape_of(case.h, case.w, case.c, runner_info, "add")
    rng = ref.case_rng(str(case))
    if case.data in ("uniform", "cancel"):
        a = ref.uniform(rng, shape, 10.0)
        b = ref.uniform(rng, shape, 10.0) if case.data == "uniform" else -a + ref.uniform(rng, shape, 1e-3)
    else:
        scale = 1e30 if case.data == "large" else 1e-30
        a, b = ref.banded(rng, shape, scale), ref.banded(rng, shape, scale)
    layer = L.Add(case.activation, case.alpha)
    result = runner.run(layer, [a, b])
    ref.assert_kernel(result, runner_info, "add")
    ref.assert_matches(result.output, ref.add(layer, a, b), str(case))


# --------------------------------------------------------------------------------------------------
# Standalone activation (the copy kernel with an epilogue)


@dataclass(frozen=True)
class ActivateCase:
    h: int
    w: Size
    c: Size
    activation: L.Activation
    alpha: float = 0.0

    def __str__(self) -> str:
        return (f"activate-c{ref.label(self.c, 'T')}-h{self.h}-w{ref.label(self.w, 'P')}-"
                f"{ref.activation_label(self.activation, self.alpha)}")


ACTIVATE_CASES = (
    [ActivateCase(2, w, c, *act) for (w, c), act in zip(product(WIDTHS, CHANNELS), cycle(ref.ACTIVATIONS))]
    + [ActivateCase(3, Edge(1), Edge(1), *act) for act in ref.ACTIVATIONS]
)


@pytest.mark.parametrize("case", ACTIVATE_CASES, ids=str)
def test_activate(runner: Runner, runner_info: RunnerInfo, case: ActivateCase) -> None:
    shape = shape_of(case.h, case.w, case.c, runner_info, "copy")
    x = ref.uniform(ref.case_rng(str(case)), shape, 10.0)
    # The thresholds themselves, where an off-by-one comparison would show.
    x.flat[:4] = np.array([0.0, 6.0, -0.0, -6.0], dtype=np.float32)[: x.size]
    layer = L.Activate(case.activation, case.alpha)
    result = runner.run(layer, [x])
    ref.assert_kernel(result, runner_info, "copy")
    ref.assert_matches(result.output, ref.activate(layer, x), str(case))


# --------------------------------------------------------------------------------------------------
# Concat and reshape: copies, compared for equality


@dataclass(frozen=True)
class ConcatCase:
    h: int
    w: Size
    channels: tuple[Size, ...]

    def __str__(self) -> str:
        parts = "+".join(ref.label(c, "T") for c in self.channels)
        return f"concat-c{parts}-h{self.h}-w{ref.label(self.w, 'P')}"


CONCAT_CASES = [
    ConcatCase(2, Edge(1, 1), (3,)),
    ConcatCase(1, Edge(2, 1), (Edge(1, 1),)),
    ConcatCase(2, Edge(1, -1), (5, 7)),
    ConcatCase(3, 1, (Edge(1, -1), Edge(1, 1))),
    ConcatCase(2, Edge(2, 1), (1, Edge(2, 1))),
    ConcatCase(2, Edge(1, 1), (1, 9, 17)),
    ConcatCase(1, Edge(1), (Edge(1, 1), 3, Edge(1, -1))),
    ConcatCase(2, 2, (Edge(2, 1), 1, 5)),
    ConcatCase(2, Edge(1, 1), (1, 3, 1, 5, 1, 7, 1, Edge(1, 1))),  # SMALL_MAX_INPUTS inputs
]


@pytest.mark.parametrize("case", CONCAT_CASES, ids=str)
def test_concat(runner: Runner, runner_info: RunnerInfo, case: ConcatCase) -> None:
    kernel = runner_info.kernels["copy"]
    w = ref.resolve(case.w, kernel.pixel_tile)
    channels = [ref.resolve(c, ref.channel_tile(kernel)) for c in case.channels]
    if min(w, *channels) < 1:
        pytest.skip("a size relative to this build's tiles is below 1")
    rng = ref.case_rng(str(case))
    inputs = [ref.uniform(rng, (case.h, w, c), 10.0) for c in channels]
    result = runner.run(L.Concat(), inputs)
    ref.assert_kernel(result, runner_info, "copy")
    ref.assert_matches(result.output, ref.concat(inputs), str(case))


RESHAPES = [
    ((2, 3, 4), (4, 3, 2)),
    ((1, 1, 24), (2, 3, 4)),
    ((3, 5, 7), (105, 1, 1)),
    ((5, 5, 5), (1, 125, 1)),
    ((2, 2, 2), (2, 2, 2)),
    ((1, 1, 1), (1, 1, 1)),
    ((4, 1, 9), (1, 6, 6)),
]


def reshape_id(source: tuple[int, int, int], target_shape: tuple[int, int, int]) -> str:
    return f"reshape-{'x'.join(map(str, source))}-to-{'x'.join(map(str, target_shape))}"


@pytest.mark.parametrize("source, target_shape", RESHAPES, ids=[reshape_id(s, t) for s, t in RESHAPES])
def test_reshape(runner: Runner, runner_info: RunnerInfo, source: tuple[int, int, int],
                 target_shape: tuple[int, int, int]) -> None:
    case_id = reshape_id(source, target_shape)
    x = ref.uniform(ref.case_rng(case_id), source, 10.0)
    layer = L.Reshape(target_shape)
    result = runner.run(layer, [x])
    ref.assert_kernel(result, runner_info, "copy")
    ref.assert_matches(result.output, ref.reshape(layer, x), case_id)


# --------------------------------------------------------------------------------------------------
# Softmax

# uniform: [-5, 5]; wide: [-80, 80], where exp(80) = 5.5e34 is near float32's limit and the sum of
# several overflows; pm80: exactly -80 or +80; offset: 1000 + [-5, 5], exp(1000) overflows even
# float64; negative offset: -1000 + [-5, 5], exp underflows to 0 and a naive 0 / 0 is NaN; equal: one
# value everywhere (1 / C each); dominant: one channel at +50, the rest at -50 (exp(-100) underflows).
Logits = Literal["uniform", "wide", "pm80", "offset", "negoffset", "equal", "dominant"]


@dataclass(frozen=True)
class SoftmaxCase:
    h: int
    w: int
    c: int
    logits: Logits = "uniform"

    def __str__(self) -> str:
        return f"softmax-c{self.c}-h{self.h}-w{self.w}" + ("" if self.logits == "uniform" else f"-{self.logits}")


def softmax_logits(rng: np.random.Generator, shape: tuple[int, int, int], logits: Logits) -> np.ndarray:
    if logits == "uniform":
        return ref.uniform(rng, shape, 5.0)
    if logits == "wide":
        return ref.uniform(rng, shape, 80.0)
    if logits == "pm80":
        return (80.0 * rng.choice(np.array([-1.0, 1.0]), size=shape)).astype(np.float32)
    if logits in ("offset", "negoffset"):
        return ((1000.0 if logits == "offset" else -1000.0) + ref.uniform(rng, shape, 5.0)).astype(np.float32)
    if logits == "equal":
        return np.full(shape, 3.7, dtype=np.float32)
    x = np.full(shape, -50.0, dtype=np.float32)
    winners = rng.integers(0, shape[2], size=shape[:2])
    np.put_along_axis(x, winners[..., None], 50.0, axis=2)
    return x


SOFTMAX_CASES = (
    [SoftmaxCase(2, 3, c) for c in (1, 2, 3, 7, 8, 9, 16, 17, 40)]
    + [SoftmaxCase(2, 3, 17, logits) for logits in ("wide", "pm80", "offset", "negoffset", "equal", "dominant")]
    + [SoftmaxCase(1, 5, 40, "wide"), SoftmaxCase(3, 1, 2, "pm80"), SoftmaxCase(1, 4, 1, "offset")]
)


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=str)
def test_softmax(runner: Runner, runner_info: RunnerInfo, case: SoftmaxCase) -> None:
    x = softmax_logits(ref.case_rng(str(case)), (case.h, case.w, case.c), case.logits)
    result = runner.run(L.Softmax(), [x])
    ref.assert_kernel(result, runner_info, "softmax")
    ref.assert_matches(result.output, ref.softmax(x), str(case))

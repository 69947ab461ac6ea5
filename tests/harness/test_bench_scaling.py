"""`invoke bench.scaling`, from given timings (nothing is timed here): parallel
efficiency against the first count, the speed over LiteRT, the verdicts on the reference conv layers
and on all of them, and the chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from small_harness.bench.charts import scaling_chart
from small_harness.bench.layer_list import BenchLayer
from small_harness.bench.scaling import EFFICIENCY_GOAL, LayerScaling, ScalingPoint, summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REFERENCE = BenchLayer("ref-conv3x3", "conv2d", (56, 56, 64), 64, kernel=(3, 3), source="reference")
SMALL = BenchLayer("small-conv", "conv2d", (16, 16, 32), 64, source="model x 1")
DEPTHWISE = BenchLayer("small-dw", "depthwise", (12, 12, 32), 32, kernel=(3, 3), source="model x 1")


def _scaling(layer: BenchLayer, ours_us: dict[int, float], litert_us: dict[int, float] | None = None) -> LayerScaling:
    points = tuple(ScalingPoint(n, (ours_us[n] * 1e3,) * 3, (litert_us[n] * 1e3,) * 3 if litert_us else ())
                   for n in ours_us)
    return LayerScaling(layer, "f32-conv-12x32-avx512", points)


def test_efficiency_is_against_the_first_count() -> None:
    s = _scaling(REFERENCE, {1: 100.0, 2: 50.0, 4: 40.0}, {1: 150.0, 2: 100.0, 4: 30.0})
    one, two, four = s.points
    assert s.efficiency(one) == pytest.approx(1.0) and s.efficiency(two) == pytest.approx(1.0)
    assert s.efficiency(four) == pytest.approx(100.0 / (4 * 40.0))
    assert s.efficiency(four, litert=True) == pytest.approx(150.0 / (4 * 30.0))
    assert s.speed_over_litert(one) == pytest.approx(1.5) and s.speed_over_litert(four) == pytest.approx(0.75)
    # From 2 threads on, the first count is the base: 2 x t(2) / (4 x t(4)).
    later = _scaling(REFERENCE, {2: 50.0, 4: 40.0})
    assert later.efficiency(later.points[1]) == pytest.approx(100.0 / 160.0)
    assert later.efficiency(later.points[1], litert=True) is None  # no LiteRT equivalent


def test_verdicts_name_the_worst_conv_layer_and_leave_out_the_others() -> None:
    scalings = [_scaling(REFERENCE, {1: 100.0, 2: 55.0}, {1: 120.0, 2: 61.0}),
                _scaling(SMALL, {1: 1.5, 2: 1.6}, {1: 2.4, 2: 2.2}),
                _scaling(DEPTHWISE, {1: 3.0, 2: 9.0})]  # not a conv: no verdict, however slow
    reference, every = summary(scalings).splitlines()
    assert reference.startswith("reference conv layers at 2 threads") and reference.endswith(": met")
    assert f"lowest {100 / 110:.2f} (ref-conv3x3)" in reference
    assert every.startswith("all conv layers") and every.endswith(": not met") and "(small-conv)" in every
    assert f"goal >= {EFFICIENCY_GOAL}" in every
    assert summary([_scaling(REFERENCE, {1: 100.0})]).endswith("needs two thread counts or more")


def test_scaling_chart_is_a_png(tmp_path: Path) -> None:
    scalings = [_scaling(REFERENCE, {1: 100.0, 2: 55.0, 4: 30.0}, {1: 120.0, 2: 61.0, 4: 33.0}),
                _scaling(DEPTHWISE, {1: 3.0, 2: 2.0, 4: 1.5})]
    data = scaling_chart("x86_64@avx512", scalings, EFFICIENCY_GOAL, tmp_path / "scaling.png").read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000

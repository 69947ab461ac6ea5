"""`invoke bench.models` options, without timing anything: thread counts and the ratio's sense."""

from __future__ import annotations

import os

import pytest

from small_harness.bench.models import ModelTiming, thread_counts
from small_harness.core.errors import HarnessError


def test_default_thread_counts_are_one_and_every_cpu_allowed() -> None:
    assert thread_counts("") == sorted({1, len(os.sched_getaffinity(0))})


def test_thread_counts_outside_the_allowed_cpus_are_refused() -> None:
    with pytest.raises(HarnessError, match="counts from 1 to"):
        thread_counts(str(len(os.sched_getaffinity(0)) + 1))
    with pytest.raises(HarnessError, match="comma list"):
        thread_counts("two")


def test_ratio_below_one_means_faster_than_litert() -> None:
    timing = ModelTiming("m", 1, ours_ns=(80.0, 90.0, 85.0), litert_ns=(100.0, 100.0, 110.0))
    assert timing.ours_ms == pytest.approx(85e-6) and timing.ratio == pytest.approx(0.85)

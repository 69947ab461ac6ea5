"""`invoke bench.scaling` times a layer at each thread count in a real runner beside LiteRT (on native
targets, where wall time means something): both compute the same output at every count (checked
before timing) and every batch is timed. No speed is asserted: the VM is noisy."""

from __future__ import annotations

import pytest

from small_harness.toolchain.backends import Backend
from small_harness.bench.layer_list import BenchLayer
from small_harness.bench.scaling import LayerScaling, time_point
from small_harness.build.cmake import BuildResult
from small_harness.runner.launch import start_runner
from small_harness.targets.types import Target, Variant

LAYER = BenchLayer("scaling-conv", "conv2d", (12, 10, 8), 16, kernel=(3, 3), padding="same", activation="relu")


def test_a_layer_is_timed_at_each_thread_count_beside_litert(target_variant: tuple[Target, Variant],
                                                             backend: Backend, build_result: BuildResult) -> None:
    target, variant = target_variant
    if not target.is_native:
        pytest.skip("wall time under QEMU means nothing: bench --threads is for native targets")
    with start_runner(target, variant, backend, build_result.runner) as runner:
        timed = [time_point(runner, LAYER, seed=0, threads=count, batches=3) for count in (1, 2, 3)]
    kernels = {kernel for kernel, _ in timed}
    assert len(kernels) == 1 and kernels.pop().startswith("f32-conv-")  # one kernel whatever the count
    points = tuple(point for _, point in timed)
    assert [p.threads for p in points] == [1, 2, 3]
    assert all(len(p.ours_ns) == len(p.litert_ns) == 3 and min(p.ours_ns + p.litert_ns) > 0 for p in points)
    scaling = LayerScaling(LAYER, "", points)
    assert scaling.efficiency(points[0]) == pytest.approx(1.0)
    assert all(0.0 < (scaling.efficiency(p) or 0.0) for p in points)

"""`invoke bench.against REV` takes turns between two real runners (on native targets,
where wall time means something): here two runners of the same build. Their ratio is a measurement,
not a test (under CI's parallel jobs one runner's CPU may be shared and the other's not: 0.3x was
seen); what is tested is that both run every round and that a refusal is one line."""

from __future__ import annotations

import pytest

from small_harness.toolchain.backends import Backend
from small_harness.bench.against import compare_model
from small_harness.build.cmake import BuildResult
from small_harness.core.errors import HarnessError
from small_harness.runner.launch import start_runner
from small_harness.targets.types import Target, Variant


def test_two_runners_of_one_build_take_turns(target_variant: tuple[Target, Variant],
                                                               backend: Backend, build_result: BuildResult) -> None:
    target, variant = target_variant
    if not target.is_native:
        pytest.skip("wall time under QEMU means nothing: bench --against is for native targets")
    with start_runner(target, variant, backend, build_result.runner) as ours, \
            start_runner(target, variant, backend, build_result.runner) as theirs:
        comparison = compare_model(ours, theirs, "ad01_fp32", threads=1, rounds=9)
        # A request a runner refuses (an older REV's, say) is one line naming the model, not a traceback.
        with pytest.raises(HarnessError, match="ad01_fp32 at 0 threads: this checkout's runner refuses"):
            compare_model(ours, theirs, "ad01_fp32", threads=0, rounds=1)
    assert len(comparison.ours_ns) == len(comparison.theirs_ns) == 9
    assert min(comparison.ours_ns + comparison.theirs_ns) > 0
    assert comparison.ratio > 0, comparison

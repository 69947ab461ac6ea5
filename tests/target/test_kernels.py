"""The kernels a build really uses: SIMD targets serve every kind their ISA provides with their own
kernels (no silent fallback to arch/ref)."""

from __future__ import annotations


import pytest

from small_harness.runner import RunnerInfo
from small_harness.targets import Target

# What every SIMD port provides; softmax may stay portable (it is bound by exp, run once per model).
SIMD_KINDS = ("conv", "dwconv", "maxpool", "avgpool", "add", "copy")


def test_runner_reports_the_isa_the_target_declares(target: Target, runner_info: RunnerInfo) -> None:
    assert runner_info.isa == target.kernel_isa


def test_simd_target_does_not_fall_back_to_reference(target: Target, runner_info: RunnerInfo) -> None:
    if target.kernel_isa == "ref":
        pytest.skip(f"{target.name} is built with the portable kernels only")
    served = {kind: runner_info.kernels[kind].name for kind in SIMD_KINDS}
    fallen_back = {kind: name for kind, name in served.items() if not name.endswith(f"-{target.kernel_isa}")}
    assert not fallen_back, f"{target.name}: served by other than {target.kernel_isa}: {fallen_back}"

"""Instruction counts under QEMU with the counting plugin (small_harness/counts/qemu_plugin/), for real, per variant
of a target with a [counts] table: ResNet-8 counted layer by layer, a single layer request counted
alone, and (once per target) the lanes of the vector FMAs following the vector length. Where the
emulator cannot load plugins (QEMU 10 of Debian 13 and the Docker images) the tests skip, saying why."""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import pytest

from small_harness.runner import layers as L
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import BuildResult
from small_harness.counts.plugin import build_plugin, emulator_args, parse_output, unable_reason
from small_harness.counts.layers import CountsReport, count_variant
from small_harness.runner.launch import runner_argv
from small_harness.runner.client import Runner, exchange_deadline
from small_harness.targets.types import Target, Variant


def _require_counting(target: Target, variant: Variant, backend: Backend, build_result: BuildResult) -> None:
    if target.counts is None:
        pytest.skip(f"{target.name} declares no [counts]")
    why = unable_reason(target, variant, backend, build_result.runner)
    if why is not None:
        pytest.skip(why)


def _lanes_per_vector_fma(target: Target, variant: Variant) -> set[int]:
    """What one vector FMA of the variant's table may hold: fixed ISAs their register width, SVE
    its vector length, RVV a register group of 1/2 to 8 vectors."""
    if variant.isa == "rvv":
        assert variant.vlen
        return {variant.vlen // 64 * lmul2 for lmul2 in (1, 2, 4, 8, 16)}
    if variant.isa == "sve":
        assert variant.vlen
        return {variant.vlen // 32}
    return {4}  # NEON q and AArch64 .4s: the tables use full 128-bit registers


@pytest.fixture(scope="module")
def report(target_variant: tuple[Target, Variant], backend: Backend, build_result: BuildResult) -> CountsReport:
    target, variant = target_variant
    _require_counting(target, variant, backend, build_result)
    return count_variant(target, variant, backend)


def test_every_layer_of_resnet8_is_counted(report: CountsReport) -> None:
    assert len(report.rows) == 16
    for row in report.rows:
        assert row.counts.insns > 0, row.name
        assert row.counts.loads > 0, row.name  # every layer reads its input
    convs = report.conv_rows()
    assert len(convs) == 9
    # The big layers dominate: a 3x3 conv takes more instructions than an element-wise add.
    adds = [row for row in report.rows if row.kind == "add"]
    assert min(row.counts.insns for row in convs if row.shape.startswith("3x3")) > max(r.counts.insns for r in adds)


def test_fma_lanes_cover_the_macs_of_each_conv_and_fc(report: CountsReport, target_variant: tuple[Target, Variant]) -> None:
    target, variant = target_variant
    allowed = _lanes_per_vector_fma(target, variant)
    for row in report.rows:
        if row.kind not in ("conv", "fc"):
            continue
        counts = row.counts
        assert counts.vfma > 0, f"{row.name}: no vector FMA counted ({counts})"
        # Every multiplication is one lane of an FMA: fewer lanes would mean FMAs went uncounted (a
        # Winograd layer's are its 16 per tile and channel pair, kernel_macs, fewer than its MACs).
        assert counts.fma_lanes >= row.multiplications, \
            f"{row.name}: {counts.fma_lanes} FMA lanes for {row.multiplications} multiplications"
        if row.winograd:
            assert row.kernel_macs < row.macs, row
        assert counts.vlanes % counts.vfma == 0 or variant.isa == "rvv", row.name
        assert counts.vlanes >= counts.vfma * min(allowed) and counts.vlanes <= counts.vfma * max(allowed), row.name
        if row.kind == "conv":  # the SIMD kernels spend about one instruction per FMA's worth of MACs or less
            assert counts.insns < 2 * row.macs, f"{row.name}: {counts.insns} instructions for {row.macs} MACs"


def test_one_layer_request_is_one_count(target_variant: tuple[Target, Variant], backend: Backend,
                                        build_result: BuildResult) -> None:
    """The runner's layer command is itself one count: planning (weight packing) stays outside."""
    target, variant = target_variant
    _require_counting(target, variant, backend, build_result)
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (10, 10, 8)).astype(np.float32)
    weights = rng.uniform(-1, 1, (16, 3, 3, 8)).astype(np.float32)
    bias = np.zeros(16, np.float32)
    macs = 8 * 8 * 16 * 3 * 3 * 8  # valid padding: every tap inside
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "plugin.log"
        command = backend.interactive_command(target, runner_argv(
            target, variant, build_result.runner, emulator_args(target, variant, build_plugin(), log)))
        with Runner(command, deadline_s=exchange_deadline(emulated=True)) as runner:
            runner.run(L.Conv2D(16, (3, 3)), [x], weights, bias)
            runner.run(L.Conv2D(16, (3, 3)), [x], weights, bias, repeat=3)
        counts = parse_output(log.read_text(), variant.label)
    assert len(counts) == 2
    single, triple = counts
    assert single.fma_lanes >= macs
    assert triple.fma_lanes == 3 * single.fma_lanes  # deterministic: three runs, three times the FMAs
    assert single.insns * 2 < triple.insns <= single.insns * 3


@pytest.mark.per_target
def test_lanes_follow_the_vector_length(target_variant: tuple[Target, Variant], backend: Backend,
                                        build_result: BuildResult) -> None:
    """Of two vector lengths of the same table, the longer one's FMAs hold proportionally more lanes
    (VLMAX, not a constant): ResNet-8's conv of the most output channels (64, which fill the widest
    register group at both lengths, as fewer channels would not) at the two shortest lengths."""
    target, variant = target_variant
    _require_counting(target, variant, backend, build_result)
    lengths = [v for v in target.variants() if v.isa == variant.isa and v.vlen]
    if len(lengths) < 2:
        pytest.skip(f"{variant.isa} has one width")
    short, long = (count_variant(target, v, backend) for v in lengths[:2])
    ratio = lengths[1].vlen // lengths[0].vlen  # type: ignore[operator]
    def widest(report: CountsReport) -> int:
        rows = report.conv_rows()
        return max(range(len(rows)), key=lambda i: int(rows[i].shape.split("->")[1].split()[0]))
    first_short, first_long = short.conv_rows()[widest(short)].counts, long.conv_rows()[widest(long)].counts
    assert first_long.vlanes / first_long.vfma == ratio * first_short.vlanes / first_short.vfma


@pytest.mark.per_target
def test_an_emulator_that_loads_no_plugin_is_named(target_variant: tuple[Target, Variant], backend: Backend,
                                                   build_result: BuildResult) -> None:
    """The probe runs the emulator with -plugin and needs the plugin's report: a program in QEMU's
    place that ignores -plugin (true) gives a reason naming it, not a pass."""
    target, variant = target_variant
    if target.counts is None or target.emulator is None or backend.name != "host":
        pytest.skip("probes the host's emulator of a target with [counts]")
    silent = dataclasses.replace(target, emulator=dataclasses.replace(target.emulator, binary="true"))
    why = unable_reason(silent, variant, backend, build_result.runner)
    assert why is not None and why.startswith("true cannot load TCG plugins")

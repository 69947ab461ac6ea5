"""The kernels a variant really uses: the table it names serves every kind that table provides (no
silent fallback to arch/ref), the chain is what was asked for, and a table is refused on a CPU that
cannot run it."""

from __future__ import annotations

import re

import numpy as np
import pytest
import reference as ref

from small_harness.runner import layers as L
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import BuildResult
from small_harness.runner.client import Runner, RunnerInfo
from small_harness.runner.launch import start_runner
from small_harness.targets.types import SIMD_KINDS
from small_harness.targets.types import REF_ISA, Target, Variant


def test_runner_reports_the_tables_the_target_declares(target: Target, runner_info: RunnerInfo) -> None:
    assert runner_info.isas == (*(isa.name for isa in target.simd_isas), REF_ISA)
    assert not runner_info.select_error


def test_the_variant_table_is_in_force(target_variant: tuple[Target, Variant], runner_info: RunnerInfo) -> None:
    target, variant = target_variant
    assert runner_info.selected[0] == variant.isa
    if variant.forced:
        assert runner_info.selected in ((variant.isa, REF_ISA), (REF_ISA,))


def test_simd_table_does_not_fall_back_to_reference(target_variant: tuple[Target, Variant],
                                                    runner_info: RunnerInfo) -> None:
    """Every kind runs the variant's own kernel, except those its TOML leaves to arch/ref on purpose
    (ref_kinds: a port in progress), which must then really run ref's: the TOML stays true."""
    target, variant = target_variant
    if variant.isa == REF_ISA:
        assert all(kernel.name.endswith(f"-{REF_ISA}") for kernel in runner_info.kernels.values())
        return
    left_to_ref = target.isa(variant.isa).ref_kinds
    served = {kind: runner_info.kernels[kind].name for kind in SIMD_KINDS}
    fallen_back = {k: name for k, name in served.items() if k not in left_to_ref and not name.endswith(f"-{variant.isa}")}
    assert not fallen_back, f"{variant.label}: served by other than {variant.isa}: {fallen_back}"
    stale = {k: name for k, name in served.items() if k in left_to_ref and not name.endswith(f"-{REF_ISA}")}
    assert not stale, f"{variant.label}: ref_kinds lists kinds that now run {variant.isa}: {sorted(stale)}; remove them"
    if left_to_ref:
        pytest.skip(f"{variant.isa} is a port in progress: {', '.join(left_to_ref)} still run arch/ref (ref_kinds)")


def test_vector_length_agnostic_tiles_follow_the_variant_length(target_variant: tuple[Target, Variant],
                                                                runner_info: RunnerInfo) -> None:
    """At vector length N the channel tile of a vector-length agnostic kernel is N/32 floats times a
    register group of 1/2, 1, 2, 4 or 8, which its name says (m4, mf2, vl): proof that the emulator ran
    at the variant's length."""
    _, variant = target_variant
    if variant.vlen is None:
        pytest.skip(f"{variant.label} has no vector-length variants")
    floats = variant.vlen // 32
    groups = {"mf2": 0.5, "m1": 1, "m2": 2, "m4": 4, "m8": 8, "vl": 1}
    for kind in SIMD_KINDS:
        for kernel in runner_info.variants(kind):
            tile = kernel.channel_tile
            assert tile / floats in (0.5, 1, 2, 4, 8), (
                f"{variant.label}: {kind} channel tile {tile}, not a register group at VLEN {variant.vlen}")
            group = re.fullmatch(r"f32-\w+-\d+x\d?(m\d|mf\d|vl)-\w+", kernel.name)
            assert group and tile == (1 if kind != "fc" else 2) * groups[group[1]] * floats, (kernel.name, tile)


def test_the_variants_of_a_kind_narrow_and_the_layer_gets_the_fewest_idle_lanes(
        runner: Runner, runner_info: RunnerInfo) -> None:
    """A kind's variants (RVV's conv per register group) are distinct and narrower one after another,
    and a conv of C output channels per group runs on the variant whose blocks leave the fewest lanes
    idle: C at each variant's tile, one over it and one under it."""
    tiles = [kernel.channel_tile for kernel in runner_info.variants("conv")]
    assert tiles == sorted(set(tiles), reverse=True), tiles
    names = [kernel.name for kernel in runner_info.variants("conv")]
    assert len(set(names)) == len(names), names
    x = np.linspace(-1, 1, 3 * 5 * 4, dtype=np.float32).reshape(3, 5, 4)
    for channels in sorted({c for tile in tiles for c in (tile - 1, tile, tile + 1) if c > 0}):
        w = np.linspace(-1, 1, channels * 4, dtype=np.float32).reshape(channels, 1, 1, 4)
        result = runner.run(L.Conv2D(channels, (1, 1)), [x], w)
        want = runner_info.kernel_for("conv", channels)
        assert result.kernel == want.name, (channels, result.kernel, want)
        np.testing.assert_allclose(result.output, np.einsum("hwk,ck->hwc", x, w[:, 0, 0]), rtol=1e-5, atol=1e-5)


def test_kernel_names_say_op_type_tile_and_isa(runner_info: RunnerInfo) -> None:
    # channels: a count, all, or vector-length agnostic vectors (m4: an LMUL-4 group, mf2: half a register;
    # 2vl: two SVE vectors)
    for kind in runner_info.kernels:
        for kernel in runner_info.variants(kind):
            element, _, op = kind.rpartition("_")  # s8_conv: int8 conv
            assert re.fullmatch(rf"{element or 'f32'}-{op}-\d+x(\d+|all|\d?mf?\d|\d?vl)-[a-z0-9]+", kernel.name), kernel.name


@pytest.mark.per_target
def test_the_library_falls_back_by_itself_on_a_cpu_without_a_table(target: Target, backend: Backend,
                                                                   build_result: BuildResult) -> None:
    """The same build, run unforced on a QEMU CPU model that lacks a table (fallback_cpu in the TOML:
    every table but the last names one), chooses the next table by itself and serves every kind from
    it. Started as every runner is (start_runner), so the emulator gets its sysroot and settings."""
    fallbacks = target.fallback_variants()
    if not fallbacks:
        pytest.skip(f"{target.name} has one kernel table: nothing to fall back from")
    if target.is_native and any(flag.startswith("-fsanitize=") and "address" in flag for flag in target.compiler.flags):
        # Its fallback runs are emulated: ASan reserves its shadow over the whole 47-bit address space,
        # which qemu-x86_64 tracks page by page (QEMU 7.2 took a minute and was killed for memory). The
        # same choice, in the same code, is tested without ASan on the native target of the triple.
        pytest.skip(f"{target.name}: an ASan build does not start under {target.user_qemu}; the fallback runs "
                    "of the build without sanitizers test the same choice")
    for variant in fallbacks:
        with start_runner(target, variant, backend, build_result.runner) as runner:
            info = runner.info()
            lacking = variant.suffix.removeprefix("no-")
            assert lacking not in info.supported and info.selected[0] == variant.isa, (variant.label, info)
            kinds = [kind for kind in SIMD_KINDS if kind not in target.isa(variant.isa).ref_kinds]
            assert all(info.kernels[kind].name.endswith(f"-{variant.isa}") for kind in kinds), (variant.label, info)
            # independent symmetric operands, as the reference's error bound assumes
            rng = np.random.default_rng(0)
            x = rng.uniform(-1, 1, (5, 7, 20)).astype(np.float32)
            w = rng.uniform(-1, 1, (24, 3, 3, 20)).astype(np.float32)
            layer = L.Conv2D(24, (3, 3), padding="same", activation="relu")
            result = runner.run(layer, [x], w)
            conv = info.kernels["conv"]
            assert result.kernel == (conv.winograd if ref.winograd_serves(layer, x.shape, conv) else conv.name)
            ref.assert_matches(result.output, ref.conv2d(layer, x, w, None), variant.label)

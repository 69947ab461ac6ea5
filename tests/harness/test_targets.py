"""Target declarations: loading toolchains/*.toml, --arch resolution, emulator commands. Checked for
every declared target, whatever they are (adding a TOML file adds it here), and on the fixture
tests/harness/data/toolchains/example-rv.toml where exact values matter."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from small_harness.core.errors import HarnessError, TargetFileError, UnknownTargetError
from small_harness.targets.types import SEMIHOST_RUN
from small_harness.targets.registry import (TOOLCHAINS_DIR, check_variant_spec, load_targets, resolve_targets, select_variants)
from small_harness.targets.toml_file import load_target

TARGETS = load_targets()
EXAMPLE = Path(__file__).parent / "data" / "toolchains" / "example-rv.toml"
EXAMPLE_CPU = "rv64,v=true,vlen={},rvv_ta_all_1s=true,rvv_ma_all_1s=true"


def test_targets_are_declared() -> None:
    assert TARGETS, f"no toolchains/*.toml in {TOOLCHAINS_DIR}"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_canonical_name_resolves_to_itself(name: str) -> None:
    assert [t.name for t in resolve_targets(name)] == [name]


@pytest.mark.parametrize("alias", sorted(alias for t in TARGETS.values() for alias in t.aliases))
def test_alias_resolves_to_canonical_target(alias: str) -> None:
    (owner,) = [t.name for t in TARGETS.values() if alias in t.aliases]
    assert [t.name for t in resolve_targets(alias)] == [owner]


def test_comma_list_keeps_order_and_drops_duplicates() -> None:
    names = sorted(TARGETS, reverse=True)
    first = TARGETS[names[0]]
    spelled = first.aliases[0] if first.aliases else first.name
    arch = ",".join([f" {names[0]}", *names[1:], f"{spelled} "])
    assert [t.name for t in resolve_targets(arch)] == names


def test_all_means_every_declared_target() -> None:
    assert [t.name for t in resolve_targets("all")] == sorted(TARGETS)


@pytest.mark.parametrize("arch", ["mips", f"{next(iter(TARGETS))},sparc", next(iter(TARGETS)).upper()])
def test_unknown_name_lists_known_names_and_aliases(arch: str) -> None:
    with pytest.raises(UnknownTargetError) as caught:
        resolve_targets(arch)
    message = str(caught.value)
    assert "\n" not in message
    for target in TARGETS.values():
        for name in [target.name, *target.aliases]:
            assert name in message
    assert message.endswith(", all, native")


def test_empty_arch_is_an_error() -> None:
    with pytest.raises(UnknownTargetError):
        resolve_targets(" , ")


def test_targets_are_frozen() -> None:
    target = next(iter(TARGETS.values()))
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_emulator_command_runs_qemu_with_cpu_and_sysroot(name: str) -> None:
    target = TARGETS[name]
    if target.emulator is None:
        assert target.emulator_command() == []
        return
    command = target.emulator_command()
    if target.emulator.environment:  # set for QEMU's own process, before it
        assert command[: 1 + len(target.emulator.environment)] == ["env", *target.emulator.environment]
        command = command[1 + len(target.emulator.environment):]
    if target.emulator.machine is not None:  # system mode, through the semihosting bridge
        assert command[:4] == [str(SEMIHOST_RUN), target.emulator.binary, "-M", target.emulator.machine]
        assert command[4:] == ["-cpu", target.emulator.cpu, "-nographic"]
        return
    assert command[:2] == [target.emulator.binary, "-cpu"]
    assert "{" not in command[2]
    if target.compiler.sysroot:
        assert command[3:] == ["-L", target.compiler.sysroot]


def test_vector_length_variants_of_the_example() -> None:
    target = load_target(EXAMPLE, release=None)
    assert [v.label for v in target.variants()] == [f"example-rv@vlen{n}" for n in (128, 256, 512, 1024)]
    assert target.emulator_command() == ["qemu-riscv64", "-cpu", EXAMPLE_CPU.format(128), "-L", "/usr/riscv64-linux-gnu"]
    for variant in target.variants():
        assert target.emulator_command(variant)[2] == EXAMPLE_CPU.format(variant.vlen)
        assert not variant.forced and variant.environment() == {}  # one table: the library's own choice


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_build_with_several_tables_forces_each(name: str) -> None:
    target = TARGETS[name]
    variants = target.variants()
    assert {v.isa for v in variants} == {isa.name for isa in target.kernel_isas}
    if len(target.kernel_isas) > 1:
        for variant in variants:
            assert variant.forced and variant.environment() == {"SMALL_KERNELS": variant.isa}
            assert target.run_command(variant)[:2] == ["env", f"SMALL_KERNELS={variant.isa}"]


def test_a_variant_list_picks_by_suffix_or_label_and_leaves_other_targets_whole() -> None:
    target = load_target(EXAMPLE, release=None)
    assert [v.suffix for v in select_variants(target, "vlen256,example-rv@vlen1024")] == ["vlen256", "vlen1024"]
    assert select_variants(target, "avx2") == target.variants()  # names none of its variants
    with pytest.raises(HarnessError, match="no variant 'vlen64'"):
        check_variant_spec([target], "vlen256,vlen64")


def _copy_with_edit(tmp_path: Path, old: str, new: str) -> Path:
    text = EXAMPLE.read_text()
    assert old in text
    copy = tmp_path / EXAMPLE.name
    copy.write_text(text.replace(old, new, 1))
    return copy


def test_misspelt_key_is_reported_not_ignored(tmp_path: Path) -> None:
    # A typo here would otherwise silently switch the v1p0 check off.
    copy = _copy_with_edit(tmp_path, "riscv_arch_contains", "riscv_arch_contain")
    with pytest.raises(TargetFileError, match="riscv_arch_contain unknown"):
        load_target(copy)


def test_vlens_without_placeholder_are_refused(tmp_path: Path) -> None:
    copy = _copy_with_edit(tmp_path, "vlen={vlen}", "vlen=128")
    with pytest.raises(TargetFileError, match="vlen"):
        load_target(copy)


def test_name_must_match_the_file(tmp_path: Path) -> None:
    copy = tmp_path / "renamed.toml"
    copy.write_text(EXAMPLE.read_text())
    with pytest.raises(TargetFileError, match="name 'example-rv' must match the file name"):
        load_target(copy)


def test_a_backend_table_overrides_compiler_fields() -> None:
    host = load_target(EXAMPLE, release=None)
    docker = load_target(EXAMPLE, backend="docker")
    assert (host.backend, host.compiler.cc) == ("host", "clang-16")
    assert (docker.backend, docker.compiler.cc) == ("docker", "clang-19")
    assert "clang-19" in docker.packages.compiler
    assert docker.compiler.flags == host.compiler.flags  # fields not overridden are kept
    assert docker.emulator == host.emulator


def test_every_target_declares_both_backends() -> None:
    assert set(load_targets(backend="host")) == set(load_targets(backend="docker")) == set(TARGETS)


def test_loading_for_a_backend_without_its_table_names_the_file(tmp_path: Path) -> None:
    text = EXAMPLE.read_text()
    copy = tmp_path / EXAMPLE.name
    copy.write_text(text[: text.index("# The Docker backend")])
    with pytest.raises(TargetFileError, match=r"example-rv.toml: has no \[docker\] table"):
        load_target(copy, backend="docker")


def test_a_new_toml_file_is_a_new_target(tmp_path: Path) -> None:
    """The first step of porting: one more file under toolchains/ is one more target."""
    for file in TOOLCHAINS_DIR.glob("*.toml"):
        shutil.copy(file, tmp_path)
    shutil.copy(EXAMPLE, tmp_path)
    targets = load_targets(directory=tmp_path)
    assert set(targets) == set(TARGETS) | {"example-rv"}


def test_a_duplicate_alias_is_refused(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path)
    clash = tmp_path / "example-rv2.toml"
    clash.write_text(EXAMPLE.read_text().replace('name = "example-rv"', 'name = "example-rv2"'))
    with pytest.raises(TargetFileError, match="alias 'exrv' already names example-rv"):
        load_targets(directory=tmp_path)


def test_a_release_table_replaces_host_fields_on_that_release() -> None:
    """[host.trixie]: Debian 13 has no clang 16; the committed toolchain file takes either."""
    default = load_target(EXAMPLE, release=None)
    bookworm = load_target(EXAMPLE, release="bookworm")
    trixie = load_target(EXAMPLE, release="trixie")
    assert (default.compiler.cc, bookworm.compiler.cc, trixie.compiler.cc) == ("clang-16", "clang-16", "clang-19")
    assert trixie.packages.compiler == ("clang-19", "gcc-riscv64-linux-gnu")
    assert default.compiler.alternatives == ("clang-19",) and trixie.compiler.alternatives == ("clang-16",)
    assert trixie.compiler.flags == default.compiler.flags


def test_a_release_table_may_hold_only_compiler_emulator_and_packages(tmp_path: Path) -> None:
    copy = _copy_with_edit(tmp_path, "[host.trixie.compiler]", "[host.trixie.elf]")
    with pytest.raises(TargetFileError, match=r"\[host.trixie\] may hold compiler, emulator and packages"):
        load_target(copy)


def test_native_is_a_target_that_runs_here_without_an_emulator() -> None:
    import platform

    native = [t for t in TARGETS.values() if t.is_native and t.system_processor == platform.machine()]
    if not native:
        with pytest.raises(UnknownTargetError, match="no declared target runs natively"):
            resolve_targets("native")
        return
    (chosen,) = resolve_targets("native")
    assert chosen.is_native and chosen.system_processor == platform.machine()


@pytest.mark.parametrize(("old", "new", "error"), [
    ('objdump = "riscv64-linux-gnu-objdump"', 'objdump = "aarch64-linux-gnu-objdump"', "objdump aarch64-linux-gnu-objdump is not"),
    ('system_processor = "riscv64"', 'system_processor = "aarch64"', r"\[cmake\] system_processor is 'aarch64'"),
    ('byte_order = "little"', 'byte_order = "big"', r"\[elf\] byte_order is 'big'"),
    ('machine = "EM_RISCV"', 'machine = "EM_AARCH64"', r"\[elf\] machine is 'EM_AARCH64'"),
    ('binary = "qemu-riscv64"', 'binary = "qemu-aarch64"', r"\[emulator\] binary is 'qemu-aarch64'"),
    ("under qemu-riscv64", "under qemu-aarch64", "must say it runs under qemu-riscv64, not under qemu-aarch64"),
])
def test_a_field_left_from_another_target_is_refused(tmp_path: Path, old: str, new: str, error: str) -> None:
    """What catches a TOML copied from the nearest target with a field left stale."""
    with pytest.raises(TargetFileError, match=error):
        load_target(_copy_with_edit(tmp_path, old, new), release=None)


@pytest.mark.parametrize(("old", "new", "error"), [
    ('kernel_isas = ["rvv"]', 'kernel_isas = ["rvv", "sve"]', r"no \[isa.sve\] table"),
    ('kernel_isas = ["rvv"]', "kernel_isas = []", "must name at least one kernel table"),
    ('kernel_isas = ["rvv"]', 'kernel_isas = ["ref", "rvv"]', "lists ref before another table"),
    ('[isa.rvv]', "[isa.rvx]", r"no \[isa.rvv\] table"),
    ('fma_mnemonics = ["vfmacc", "vfmadd"]', 'fma_mnemonics = ["vfmacc"]\nref_kinds = ["conv", "gemm"]',
     "ref_kinds names gemm"),
])
def test_kernel_tables_are_checked(tmp_path: Path, old: str, new: str, error: str) -> None:
    with pytest.raises(TargetFileError, match=error):
        load_target(_copy_with_edit(tmp_path, old, new), release=None)

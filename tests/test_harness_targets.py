"""Target declarations: loading toolchains/*.toml, --arch resolution, emulator commands."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from small_harness.errors import HarnessError, TargetFileError, UnknownTargetError
from small_harness.targets import TOOLCHAINS_DIR, load_target, load_targets, resolve_targets

CANONICAL = ["aarch64", "armv7", "riscv64", "x86_64"]
ALIASES = {"x86": "x86_64", "arm": "armv7", "arm64": "aarch64", "riscv": "riscv64"}
RISCV_CPU = "rv64,v=true,vlen={},rvv_ta_all_1s=true,rvv_ma_all_1s=true"


def test_the_four_targets_are_declared() -> None:
    assert set(CANONICAL) <= set(load_targets())


@pytest.mark.parametrize("name", CANONICAL)
def test_canonical_name_resolves_to_itself(name: str) -> None:
    assert [t.name for t in resolve_targets(name)] == [name]


@pytest.mark.parametrize(("alias", "canonical"), ALIASES.items())
def test_alias_resolves_to_canonical_target(alias: str, canonical: str) -> None:
    assert [t.name for t in resolve_targets(alias)] == [canonical]


def test_comma_list_keeps_order_and_drops_duplicates() -> None:
    assert [t.name for t in resolve_targets("riscv, x86_64,riscv64 ,arm")] == ["riscv64", "x86_64", "armv7"]


def test_all_means_every_declared_target() -> None:
    assert [t.name for t in resolve_targets("all")] == sorted(load_targets())


@pytest.mark.parametrize("arch", ["mips", "riscv64,sparc", "RISCV64"])
def test_unknown_name_lists_known_names_and_aliases(arch: str) -> None:
    with pytest.raises(UnknownTargetError) as caught:
        resolve_targets(arch)
    message = str(caught.value)
    assert "\n" not in message
    for name in [*CANONICAL, *ALIASES, "all"]:
        assert name in message


def test_empty_arch_is_an_error() -> None:
    with pytest.raises(UnknownTargetError):
        resolve_targets(" , ")


def test_targets_are_frozen() -> None:
    target = load_targets()["riscv64"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        target.name = "other"  # type: ignore[misc]


def test_riscv64_emulator_command_defaults_to_the_first_vlen() -> None:
    target = load_targets()["riscv64"]
    assert target.emulator is not None and target.emulator.vlens == (128, 256, 512, 1024)
    assert target.emulator_command() == ["qemu-riscv64", "-cpu", RISCV_CPU.format(128), "-L", "/usr/riscv64-linux-gnu"]


@pytest.mark.parametrize("vlen", [128, 256, 512, 1024])
def test_riscv64_emulator_command_takes_each_declared_vlen(vlen: int) -> None:
    assert load_targets()["riscv64"].emulator_command(vlen)[2] == RISCV_CPU.format(vlen)


def test_undeclared_vlen_is_refused() -> None:
    with pytest.raises(HarnessError, match="VLEN 64 not declared"):
        load_targets()["riscv64"].emulator_command(64)


def test_vlen_is_ignored_by_targets_without_variants() -> None:
    # `--arch all --vlen 256` sets the RISC-V vector length and leaves the other targets as they are.
    targets = load_targets()
    assert targets["armv7"].emulator_command(256) == targets["armv7"].emulator_command()
    assert targets["x86_64"].emulator_command(256) == []


def test_native_target_has_no_emulator_command() -> None:
    assert load_targets()["x86_64"].emulator_command() == []


def test_arm_targets_pass_cpu_and_sysroot_to_qemu() -> None:
    targets = load_targets()
    assert targets["armv7"].emulator_command() == ["qemu-arm", "-cpu", "cortex-a15", "-L", "/usr/arm-linux-gnueabihf"]
    assert targets["aarch64"].emulator_command() == ["qemu-aarch64", "-cpu", "max", "-L", "/usr/aarch64-linux-gnu"]


def _copy_with_edit(tmp_path: Path, name: str, old: str, new: str) -> Path:
    text = (TOOLCHAINS_DIR / f"{name}.toml").read_text()
    assert old in text
    copy = tmp_path / f"{name}.toml"
    copy.write_text(text.replace(old, new, 1))
    return copy


def test_misspelt_key_is_reported_not_ignored(tmp_path: Path) -> None:
    # A typo here would otherwise silently switch the v1p0 check off.
    copy = _copy_with_edit(tmp_path, "riscv64", "riscv_arch_contains", "riscv_arch_contain")
    with pytest.raises(TargetFileError, match="riscv_arch_contain unknown"):
        load_target(copy)


def test_vlens_without_placeholder_are_refused(tmp_path: Path) -> None:
    copy = _copy_with_edit(tmp_path, "riscv64", "vlen={vlen}", "vlen=128")
    with pytest.raises(TargetFileError, match="vlen"):
        load_target(copy)


def test_a_backend_table_overrides_compiler_fields() -> None:
    host = load_target(TOOLCHAINS_DIR / "riscv64.toml")
    docker = load_target(TOOLCHAINS_DIR / "riscv64.toml", backend="docker")
    assert (host.backend, host.compiler.cc) == ("host", "clang-16")
    assert (docker.backend, docker.compiler.cc) == ("docker", "clang-19")
    assert "clang-19" in docker.packages.compiler
    assert docker.compiler.flags == host.compiler.flags  # fields not overridden are kept
    assert docker.emulator == host.emulator


def test_every_target_declares_both_backends() -> None:
    for backend in ("host", "docker"):
        assert set(load_targets(backend=backend)) == {"x86_64", "x86_64-avx512", "armv7", "aarch64", "riscv64"}


def test_loading_for_a_backend_without_its_table_names_the_file(tmp_path: Path) -> None:
    text = (TOOLCHAINS_DIR / "riscv64.toml").read_text()
    copy = tmp_path / "riscv64.toml"
    copy.write_text(text[: text.index("# The Docker backend")])
    with pytest.raises(TargetFileError, match=r"riscv64.toml: has no \[docker\] table"):
        load_target(copy, backend="docker")

"""ELF checks on real builds, and real mismatches: binaries of another target, a soft-float ARM
object, a RISC-V object without the vector extension, a 32-bit object for a 64-bit target."""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import pytest
from harness_fixtures import built, compile_object, host_target

from small_harness.archive import read_archive_members
from small_harness.elfcheck import check_artifacts, check_elf
from small_harness.errors import ElfMismatchError, HarnessError

EXPECTED_MACHINES = {"x86_64": "EM_X86_64", "armv7": "EM_ARM", "aarch64": "EM_AARCH64", "riscv64": "EM_RISCV"}


@pytest.mark.parametrize("name", sorted(EXPECTED_MACHINES))
def test_real_build_passes_the_elf_checks(name: str) -> None:
    result = built(name)
    reports = check_artifacts(result.target, result.artifacts)
    names = [report.name for report in reports]
    # The executables, and every object inside libsmall.a (at least the frame and ref kernels).
    assert any(n.endswith("small_runner") for n in names) and any(n.endswith("small_selftest") for n in names)
    assert sum("libsmall.a(" in n for n in names) >= 3
    assert {report.machine for report in reports} == {EXPECTED_MACHINES[name]}


def test_riscv64_artifacts_have_the_vector_extension() -> None:
    result = built("riscv64")
    for report in check_artifacts(result.target, result.artifacts):
        assert report.riscv_arch is not None and "v1p0" in report.riscv_arch.split("_")


def test_armv7_artifacts_are_hard_float() -> None:
    result = built("armv7")
    reports = check_artifacts(result.target, result.artifacts)
    assert {report.arm_float_abi for report in reports} == {"hard"}
    assert {report.elf_class for report in reports} == {32}


def test_host_binary_checked_as_riscv64_fails() -> None:
    host_runner = built("x86_64").runner
    with pytest.raises(ElfMismatchError) as caught:
        check_elf(host_target("riscv64"), host_runner)
    message = str(caught.value)
    assert "small_runner: ELF machine EM_X86_64, expected EM_RISCV" in message
    if platform.machine() == "x86_64":
        assert message.endswith("this build came out for the host")


def test_host_library_checked_as_riscv64_fails_on_its_first_member() -> None:
    host_library = built("x86_64").artifacts[0]
    with pytest.raises(ElfMismatchError, match=r"libsmall\.a\(.+\.o\): ELF machine EM_X86_64"):
        check_artifacts(host_target("riscv64"), [host_library])


def test_armv7_binary_checked_as_aarch64_fails() -> None:
    with pytest.raises(ElfMismatchError, match="ELF machine EM_ARM, expected EM_AARCH64"):
        check_elf(host_target("aarch64"), built("armv7").runner)


def test_soft_float_object_checked_as_armv7_fails(tmp_path: Path) -> None:
    soft = compile_object(
        ["arm-linux-gnueabihf-gcc", "-march=armv7-a", "-mfpu=neon", "-mfloat-abi=softfp"], tmp_path, "soft"
    )
    with pytest.raises(ElfMismatchError, match="ARM float ABI soft, expected hard"):
        check_elf(host_target("armv7"), soft)


def test_hard_float_object_passes_as_armv7(tmp_path: Path) -> None:
    target = host_target("armv7")
    hard = compile_object([target.compiler.cc, *target.compiler.flags], tmp_path, "hard")
    assert check_elf(target, hard).arm_float_abi == "hard"


def test_riscv64_object_without_vector_extension_fails(tmp_path: Path) -> None:
    scalar = compile_object(["clang-16", "--target=riscv64-linux-gnu", "-march=rv64gc"], tmp_path, "scalar")
    with pytest.raises(ElfMismatchError, match="lacks v1p0"):
        check_elf(host_target("riscv64"), scalar)


def test_32_bit_riscv_object_checked_as_riscv64_fails_on_class(tmp_path: Path) -> None:
    rv32 = compile_object(["clang-16", "--target=riscv32-linux-gnu", "-march=rv32gcv"], tmp_path, "rv32")
    with pytest.raises(ElfMismatchError, match="ELF class 32-bit, expected 64-bit"):
        check_elf(host_target("riscv64"), rv32)


def test_non_elf_file_fails(tmp_path: Path) -> None:
    text = tmp_path / "small_runner"
    text.write_text("#!/bin/sh\n")
    with pytest.raises(ElfMismatchError, match="not an ELF file"):
        check_elf(host_target("riscv64"), text)


def test_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not found; build it with: invoke build --arch riscv64"):
        check_artifacts(host_target("riscv64"), [tmp_path / "small_runner"])


@pytest.mark.parametrize("ar_command", [["riscv64-linux-gnu-ar", "rcs"], ["llvm-ar-16", "rcs", "--format=bsd"]])
def test_archive_reader_handles_long_member_names(tmp_path: Path, ar_command: list[str]) -> None:
    """GNU ("//" name table) and BSD ("#1/N") long names, from the real ar tools."""
    target = host_target("riscv64")
    flags = [target.compiler.cc, f"--target={target.compiler.target}", *target.compiler.flags]
    long_object = compile_object(flags, tmp_path, "a_member_name_longer_than_sixteen_chars")
    short_object = compile_object(flags, tmp_path, "k")
    library = tmp_path / "libtest.a"
    subprocess.run([*ar_command, str(library), str(long_object), str(short_object)], check=True)
    members = read_archive_members(library.read_bytes(), "libtest.a")
    assert [name for name, _ in members] == ["a_member_name_longer_than_sixteen_chars.o", "k.o"]
    assert [data for _, data in members] == [long_object.read_bytes(), short_object.read_bytes()]
    assert len(check_artifacts(target, [library])) == 2


def test_disassembly_parser_keeps_local_labels_inside_their_function() -> None:
    from small_harness.disasm import mnemonics_by_function

    listing = """
0000000000000000 <rvv_conv>:
   0:\tvsetvli\ta5,zero,e32,m4,ta,ma
0000000000000010 <.LBB0_2>:
  10:\tvfmacc.vf\tv8,fa5,v16
0000000000000020 <rvv_add-0x2>:
  20:\tret
0000000000000030 <rvv_add>:
  30:\tvfadd.vv\tv8,v8,v16
"""
    functions = mnemonics_by_function(listing)
    assert set(functions) == {"rvv_conv", "rvv_add"}
    assert functions["rvv_conv"]["vfmacc.vf"] == 1 and functions["rvv_conv"]["ret"] == 1

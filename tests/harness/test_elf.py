"""The ELF checker's own behaviour on files that need no target toolchain: not ELF at all, missing
artifacts, archives written by the real GNU and LLVM ar tools (GNU and BSD long member names), and
the disassembly parser. Real builds are checked per target, in tests/target/test_build.py."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from small_harness.core.archive import read_archive_members
from small_harness.build.disasm import mnemonics_by_function
from small_harness.toolchain.docker.probe import exit0_elf
from small_harness.build.elf import check_artifacts, check_elf
from small_harness.core.errors import ElfMismatchError, HarnessError
from small_harness.targets.toml_file import load_target
from small_harness.core.tools import program

EXAMPLE = load_target(Path(__file__).parent / "data" / "toolchains" / "example-rv.toml", release=None)


def test_non_elf_file_fails(tmp_path: Path) -> None:
    text = tmp_path / "small_runner"
    text.write_text("#!/bin/sh\n")
    with pytest.raises(ElfMismatchError, match="not an ELF file"):
        check_elf(EXAMPLE, text)


def test_missing_artifact_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not found; build it with: invoke build --arch example-rv"):
        check_artifacts(EXAMPLE, [tmp_path / "small_runner"])


def test_an_executable_for_another_machine_fails(tmp_path: Path) -> None:
    x86 = tmp_path / "small_runner"
    x86.write_bytes(exit0_elf("x86_64") or b"")
    with pytest.raises(ElfMismatchError, match="small_runner: ELF machine EM_X86_64, expected EM_RISCV"):
        check_elf(EXAMPLE, x86)


@pytest.mark.parametrize("ar_command", [["ar", "rcs"], ["llvm-ar", "rcs", "--format=bsd"]], ids=["gnu", "bsd"])
def test_archive_reader_handles_long_member_names(tmp_path: Path, ar_command: list[str]) -> None:
    """GNU ("//" name table) and BSD ("#1/N") long names, from the real ar tools; every member of
    an archive is checked (two executables for another machine: both are reported)."""
    long_member = tmp_path / "a_member_name_longer_than_sixteen_chars.o"
    short_member = tmp_path / "k.o"
    long_member.write_bytes(exit0_elf("aarch64") or b"")
    short_member.write_bytes(exit0_elf("x86_64") or b"")
    library = tmp_path / "libtest.a"
    subprocess.run([program(ar_command[0]), *ar_command[1:], str(library), str(long_member), str(short_member)],
                   check=True)
    members = read_archive_members(library.read_bytes(), "libtest.a")
    assert [name for name, _ in members] == [long_member.name, short_member.name]
    assert [data for _, data in members] == [long_member.read_bytes(), short_member.read_bytes()]
    with pytest.raises(ElfMismatchError, match=r"libtest\.a\(a_member_name_longer_than_sixteen_chars\.o\): ELF "
                                               r"machine EM_AARCH64"):
        check_artifacts(EXAMPLE, [library])


def test_disassembly_parser_keeps_local_labels_inside_their_function() -> None:
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

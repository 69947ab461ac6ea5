"""The disassembly reader behind the FMA check (small_harness/build/disasm.py) on real objdump output of
every target's objects: tests/harness/data/disasm/ holds, per target, branches.c as its compiler built it
and its objdump printed it (capture.py there makes a pair for any target). Each dialect heads blocks at
labels that are not functions (clang's .LBB on RISC-V, GAS's fake label L0^A on LoongArch, relative
names); none may start a function or lose an instruction."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from small_harness.build.disasm import function_symbols, mnemonics_by_function

DATA = Path(__file__).parent / "data" / "disasm"
CAPTURED = sorted(path.name.removesuffix(".symbols.txt") for path in DATA.glob("*.symbols.txt"))
DEFINED = {"first_kernel", "second_kernel"}  # the global functions of branches.c
INSTRUCTION = re.compile(r"^\s+[0-9a-f]+:\s+\S")


def test_a_capture_exists_for_several_dialects() -> None:
    assert len(CAPTURED) >= 2, f"no captured listings in {DATA}"


@pytest.mark.parametrize("target", CAPTURED)
def test_every_instruction_belongs_to_a_function_of_the_symbol_table(target: str) -> None:
    symbols = function_symbols((DATA / f"{target}.symbols.txt").read_text())
    listing = (DATA / f"{target}.listing.txt").read_text()
    assert DEFINED <= symbols, symbols
    functions = mnemonics_by_function(listing, symbols)
    assert set(functions) <= symbols and DEFINED <= set(functions), set(functions)
    assert all(sum(counts.values()) > 0 for counts in functions.values()), functions
    # every instruction from the first function on (alignment padding may come before it: RISC-V's nop)
    lines = listing.splitlines()
    first = next(i for i, line in enumerate(lines) if any(line.endswith(f" <{name}>:") for name in symbols))
    instructions = sum(1 for line in lines[first:] if INSTRUCTION.match(line))
    assert sum(sum(counts.values()) for counts in functions.values()) == instructions


@pytest.mark.parametrize("target", CAPTURED)
def test_without_a_symbol_table_the_label_forms_are_known_by_name(target: str) -> None:
    listing = (DATA / f"{target}.listing.txt").read_text()
    symbols = function_symbols((DATA / f"{target}.symbols.txt").read_text())
    assert mnemonics_by_function(listing) == mnemonics_by_function(listing, symbols)


def test_gas_fake_labels_continue_their_function() -> None:
    # LoongArch objects as GAS leaves them for linker relaxation: objdump shows FAKE_LABEL_NAME "L0\001"
    # as L0^A at the branch targets
    listing = """
0000000000000000 <lsx_conv>:
   0:\tvld\t$vr0, $a1, 0
0000000000000010 <L0^A>:
  10:\tvfmadd.s\t$vr1, $vr0, $vr2, $vr1
0000000000000020 <lsx_add>:
  20:\tvfadd.s\t$vr0, $vr0, $vr1
"""
    table = ("0000000000000000 g     F .text\t0000000000000020 lsx_conv\n"
             "0000000000000010 l       .text\t0000000000000000 L0\x01\n"
             "0000000000000020 g     F .text\t0000000000000008 lsx_add\n")
    for functions in (mnemonics_by_function(listing), mnemonics_by_function(listing, function_symbols(table))):
        assert set(functions) == {"lsx_conv", "lsx_add"}
        assert functions["lsx_conv"]["vfmadd.s"] == 1

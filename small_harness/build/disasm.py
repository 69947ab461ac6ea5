"""Proof from the binary that a SIMD build's kernels are vector code: the conv and depthwise kernel
functions of arch/<isa>/ must contain the ISA's vector FMA instructions.

Convention (the templates in arch/template/ follow it): the kernel functions of arch/<isa>/ are
named <isa>_<kind>, e.g. avx2_conv, rvv_dwconv."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from small_harness.toolchain.backends import Backend
from small_harness.core.errors import ElfMismatchError, HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target

KINDS_NEEDING_FMA = ("conv", "dwconv", "fc")
_FUNCTION = re.compile(r"^[0-9a-f]+ <([^>]+)>:$")
_INSTRUCTION = re.compile(r"^\s+[0-9a-f]+:\s+(\S+)")
_RELATIVE = re.compile(r"[+-]0x[0-9a-f]+$")
_FAKE_LABEL = re.compile(r"L0(\^A|\x01)(_\d+)?")  # GAS's FAKE_LABEL_NAME "L0\001", as objdump prints it
# `objdump -t`: address, seven flag characters (F: function), section, size (and on some targets an
# alignment or other column), name
_SYMBOL = re.compile(r"^[0-9a-f]+ (.{7}) \S+\s+[0-9a-f]+\s+(?:\S+\s+)?(\S+)$")


@dataclass(frozen=True)
class FmaReport:
    function: str
    fma_count: int
    mnemonic: str  # the most frequent FMA mnemonic


def function_symbols(symbol_table: str) -> frozenset[str]:
    """The names of the function symbols (flag F) in `objdump -t` output, of an object or an archive."""
    names = set()
    for line in symbol_table.splitlines():
        entry = _SYMBOL.match(line)
        if entry and "F" in entry.group(1):
            names.add(entry.group(2))
    return frozenset(names)


def mnemonics_by_function(disassembly: str, functions: frozenset[str] | None = None) -> dict[str, Counter[str]]:
    """Instruction mnemonics per function in `objdump -d --no-show-raw-insn` output.

    objdump heads a block at every symbol it knows, and not all of them start a function: assembler
    labels that some toolchains keep in objects for linker relaxation (clang's .LBB0_2 on RISC-V, GAS's
    fake label L0^A at nearly every LoongArch branch target) and symbol-relative names (<rvv_add-0x2>).
    Given `functions` (function_symbols of the same file), only those start a function and every other
    block continues the one before; without it, the known label forms are skipped by name."""
    counted: dict[str, Counter[str]] = {}
    current: Counter[str] | None = None
    for line in disassembly.splitlines():
        header = _FUNCTION.match(line)
        if header:
            name = header.group(1)
            starts = (name in functions if functions is not None else
                      not (name.startswith(".L") or _RELATIVE.search(name) or _FAKE_LABEL.fullmatch(name)))
            if starts:
                current = counted.setdefault(name, Counter())
            continue
        instruction = _INSTRUCTION.match(line)
        if instruction and current is not None:
            current[instruction.group(1)] += 1
    return counted


def disassemble(target: Target, backend: Backend, binary: Path) -> dict[str, Counter[str]]:
    """Mnemonics per function of an object, archive or program, read with the target's objdump."""
    if not target.elf.objdump:
        raise HarnessError(f"{target.source.name}: a target with kernel tables under arch/ needs [elf] objdump")
    outputs = []
    for option in ("-t", "-d"):
        argv = [target.elf.objdump, option, *(["--no-show-raw-insn"] if option == "-d" else []), str(binary)]
        result = backend.run(target, argv, REPO_ROOT)
        if result.returncode != 0:
            raise HarnessError(f"{target.name}: {' '.join(argv[:2])} failed on {binary.name}: "
                               f"{result.output.strip().splitlines()[-1:]}")
        outputs.append(result.output)
    return mnemonics_by_function(outputs[1], function_symbols(outputs[0]))


def check_kernel_fmas(target: Target, backend: Backend, library: Path) -> list[FmaReport]:
    """For each kernel table built from arch/<isa>/, the FMA use of each of its kernel functions;
    raises when a conv or depthwise kernel has none. [] for a build with arch/ref's table only."""
    if not target.simd_isas:
        return []
    functions = disassemble(target, backend, library)
    reports = []
    for isa in target.simd_isas:
        prefix = f"{isa.name}_"
        found = []
        for function, mnemonics in sorted(functions.items()):
            if not function.startswith(prefix):
                continue
            fmas = Counter({m: n for m, n in mnemonics.items() if m.startswith(isa.fma_mnemonics)})
            top = fmas.most_common(1)
            found.append(FmaReport(function, sum(fmas.values()), top[0][0] if top else ""))
        for kind in (k for k in KINDS_NEEDING_FMA if k not in isa.ref_kinds):
            kernels = [r for r in found if r.function.startswith(f"{prefix}{kind}")]
            if not any(r.fma_count for r in kernels):
                names = ", ".join(r.function for r in kernels) or f"no function named {prefix}{kind}*"
                raise ElfMismatchError(f"{target.name}: no vector FMA ({', '.join(isa.fma_mnemonics)}) in the "
                                       f"{kind} kernels of {isa.name} in {library.name} ({names}): "
                                       "the SIMD code is not there")
        reports += found
    return reports

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


@dataclass(frozen=True)
class FmaReport:
    function: str
    fma_count: int
    mnemonic: str  # the most frequent FMA mnemonic


def mnemonics_by_function(disassembly: str) -> dict[str, Counter[str]]:
    """Instruction mnemonics per function in `objdump -d --no-show-raw-insn` output."""
    functions: dict[str, Counter[str]] = {}
    current: Counter[str] | None = None
    for line in disassembly.splitlines():
        header = _FUNCTION.match(line)
        # Assembler-local labels (.LBB0_2, .Lpcrel_hi3) that some compilers keep in objects, e.g.
        # clang-16 with RISC-V linker relaxation, are branch targets inside a function, and objdump's
        # symbol-relative names (<rvv_add-0x2>) are addresses: neither starts a function.
        if header and not header.group(1).startswith(".L") and not _RELATIVE.search(header.group(1)):
            current = functions.setdefault(header.group(1), Counter())
            continue
        if header:
            continue
        instruction = _INSTRUCTION.match(line)
        if instruction and current is not None:
            current[instruction.group(1)] += 1
    return functions


def check_kernel_fmas(target: Target, backend: Backend, library: Path) -> list[FmaReport]:
    """For each kernel table built from arch/<isa>/, the FMA use of each of its kernel functions;
    raises when a conv or depthwise kernel has none. [] for a build with arch/ref's table only."""
    if not target.simd_isas:
        return []
    if not target.elf.objdump:
        raise HarnessError(f"{target.source.name}: a target with kernel tables under arch/ needs [elf] objdump")
    result = backend.run(target, [target.elf.objdump, "-d", "--no-show-raw-insn", str(library)], REPO_ROOT)
    if result.returncode != 0:
        raise HarnessError(f"{target.name}: {target.elf.objdump} failed on {library.name}: "
                           f"{result.output.strip().splitlines()[-1:]}")
    functions = mnemonics_by_function(result.output)
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

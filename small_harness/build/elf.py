"""Checks that build artifacts are ELF files for the target they claim: machine, class, byte order,
ARM float ABI, RISC-V arch string, ppc64 ABI version, LoongArch float ABI. Static libraries are opened
and every member object is checked."""

from __future__ import annotations

import io
import platform
from dataclasses import dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import AttributesSection

from small_harness.core.paths import relative
from small_harness.core.archive import is_archive, read_archive_members
from small_harness.core.errors import ElfMismatchError, HarnessError
from small_harness.targets.types import Target

ELF_MAGIC = b"\x7fELF"
# ARM ELF e_flags float ABI bits (ARM IHI 0044). The linker sets them on executables; GNU as
# leaves them clear on object files, which carry Tag_ABI_VFP_args instead.
EF_ARM_ABI_FLOAT_SOFT = 0x200
EF_ARM_ABI_FLOAT_HARD = 0x400
# Tag_ABI_VFP_args values: 0 base (soft) AAPCS, 1 VFP registers (hard); 3 means "no FP
# arguments, compatible with both", which constrains nothing.
ARM_VFP_ARGS_ABI = {0: "soft", 1: "hard"}

# ppc64 e_flags: the ABI version, 1 (ELFv1, big-endian Linux) or 2 (ELFv2, ppc64le); 0 unspecified.
EF_PPC64_ABI = 0x3

# The float ABI that e_flags carries, by machine: (mask, name by value, the Linux psABI's ABI). LoongArch
# (psABI v2.x): the base ABI modifier, 1 lp64s (soft-float), 2 lp64f (single), 3 lp64d (double); Linux
# (Debian loong64) is lp64d. A machine listed here must have its Linux ABI; add one the same way.
E_FLAGS_FLOAT_ABI = {"EM_LOONGARCH": (0x7, {1: "soft", 2: "single", 3: "double"}, "double")}

# e_machine of the machine running this script, to say "this build came out for the host".
HOST_MACHINES = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64", "armv7l": "EM_ARM", "riscv64": "EM_RISCV"}


@dataclass(frozen=True)
class ElfReport:
    name: str  # a path, or "libsmall.a(nest.c.o)" for an archive member
    machine: str
    elf_class: int
    byte_order: str  # "little" or "big"
    arm_float_abi: str | None  # None unless the file is ARM
    riscv_arch: str | None  # None unless the file is RISC-V
    ppc64_abi: int | None = None  # None unless the file is ppc64
    float_abi: str | None = None  # None unless E_FLAGS_FLOAT_ABI lists the machine

    def summary(self) -> str:
        parts = [self.machine, f"ELF{self.elf_class}", f"{self.byte_order}-endian"]
        if self.ppc64_abi is not None:
            parts.append(f"ELFv{self.ppc64_abi}" if self.ppc64_abi else "ELFv?")
        if self.arm_float_abi is not None:
            parts.append(f"{self.arm_float_abi}-float")
        if self.riscv_arch is not None:
            parts.append(self.riscv_arch)
        if self.float_abi is not None:
            parts.append(f"{self.float_abi}-float")
        return " ".join(parts)


def _file_attributes(elf: ELFFile, section_name: str) -> dict[str, object] | None:
    """File-scope build attributes of an ARM/RISC-V attributes section; None if it is absent."""
    section = elf.get_section_by_name(section_name)
    if not isinstance(section, AttributesSection):
        return None
    attributes: dict[str, object] = {}
    for subsection in section.iter_subsections():
        for subsubsection in subsection.iter_subsubsections(scope="TAG_FILE"):
            for attribute in subsubsection.iter_attributes():
                attributes[attribute.tag] = attribute.value
    return attributes


def _arm_float_abi(elf: ELFFile) -> str:
    """"hard", "soft", "unspecified", or "inconsistent (...)" from e_flags and Tag_ABI_VFP_args."""
    flags = elf["e_flags"]
    from_flags = "hard" if flags & EF_ARM_ABI_FLOAT_HARD else "soft" if flags & EF_ARM_ABI_FLOAT_SOFT else None
    attributes = _file_attributes(elf, ".ARM.attributes")
    from_attributes = None
    if attributes is not None:
        # An absent tag means its default, 0: the base (soft) procedure call standard.
        vfp_args = attributes.get("TAG_ABI_VFP_ARGS", 0)
        from_attributes = ARM_VFP_ARGS_ABI.get(vfp_args) if isinstance(vfp_args, int) else None
    found = {abi for abi in (from_flags, from_attributes) if abi is not None}
    if not found:
        return "unspecified"
    if len(found) > 1:
        return f"inconsistent (e_flags {from_flags}, Tag_ABI_VFP_args {from_attributes})"
    return found.pop()


def _riscv_arch(elf: ELFFile) -> str:
    attributes = _file_attributes(elf, ".riscv.attributes")
    if attributes is None:
        return "(no .riscv.attributes section)"
    arch = attributes.get("TAG_ARCH")
    return arch if isinstance(arch, str) else "(no Tag_RISCV_arch)"


def _e_flags_float_abi(elf: ELFFile, machine: str) -> str | None:
    if machine not in E_FLAGS_FLOAT_ABI:
        return None
    mask, names, _ = E_FLAGS_FLOAT_ABI[machine]
    value = elf["e_flags"] & mask
    return names.get(value, f"unknown ({value:#x})")


def _host_hint(machine: str) -> str:
    return ": this build came out for the host" if HOST_MACHINES.get(platform.machine()) == machine else ""


def _check_elf_bytes(target: Target, data: bytes, name: str) -> ElfReport:
    if not data.startswith(ELF_MAGIC):
        raise ElfMismatchError(f"{name}: not an ELF file, expected {target.elf.machine} for {target.name}")
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        report = ElfReport(
            name=name,
            machine=machine,
            elf_class=elf.elfclass,
            byte_order="little" if elf.little_endian else "big",
            arm_float_abi=_arm_float_abi(elf) if machine == "EM_ARM" else None,
            riscv_arch=_riscv_arch(elf) if machine == "EM_RISCV" else None,
            ppc64_abi=elf["e_flags"] & EF_PPC64_ABI if machine == "EM_PPC64" else None,
            float_abi=_e_flags_float_abi(elf, machine),
        )
    except ELFError as error:
        raise ElfMismatchError(f"{name}: unreadable ELF file: {error}") from error

    expected = target.elf
    if report.machine != expected.machine:
        raise ElfMismatchError(
            f"{name}: ELF machine {report.machine}, expected {expected.machine}{_host_hint(report.machine)}"
        )
    if report.elf_class != expected.elf_class:
        raise ElfMismatchError(f"{name}: ELF class {report.elf_class}-bit, expected {expected.elf_class}-bit")
    if report.byte_order != expected.byte_order:
        raise ElfMismatchError(f"{name}: {report.byte_order}-endian, expected {expected.byte_order}-endian")
    # Objects may leave the ABI version 0 (unspecified); executables and any object that sets it must match.
    if expected.ppc64_abi is not None and report.ppc64_abi not in (0, expected.ppc64_abi):
        raise ElfMismatchError(f"{name}: ppc64 ELFv{report.ppc64_abi} ABI, expected ELFv{expected.ppc64_abi}")
    if expected.arm_float_abi is not None and report.arm_float_abi != expected.arm_float_abi:
        raise ElfMismatchError(
            f"{name}: ARM float ABI {report.arm_float_abi}, expected {expected.arm_float_abi}"
        )
    linux_float_abi = E_FLAGS_FLOAT_ABI[report.machine][2] if report.float_abi is not None else None
    if report.float_abi != linux_float_abi:
        raise ElfMismatchError(f"{name}: float ABI {report.float_abi}, expected {linux_float_abi} ({report.machine} Linux)")
    if expected.riscv_arch_contains:
        # Compare whole components: "v1p0" must not match inside e.g. "zvl128b1p0".
        components = (report.riscv_arch or "").split("_")
        absent = [wanted for wanted in expected.riscv_arch_contains if wanted not in components]
        if absent:
            raise ElfMismatchError(
                f"{name}: RISC-V arch {report.riscv_arch} lacks {', '.join(absent)}, expected for {target.name}"
            )
    return report


def _read(path: Path, target: Target) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise HarnessError(f"{relative(path)}: not found; build it with: invoke build --arch {target.name}") from None


def check_elf(target: Target, path: Path) -> ElfReport:
    """Check one ELF file (executable or object) against the target's expectations."""
    return _check_elf_bytes(target, _read(path, target), relative(path))


def check_artifacts(target: Target, paths: list[Path]) -> list[ElfReport]:
    """Check executables and static libraries (each member object); one report per ELF file."""
    reports: list[ElfReport] = []
    for path in paths:
        data = _read(path, target)
        if is_archive(data):
            members = read_archive_members(data, relative(path))
            if not members:
                raise ElfMismatchError(f"{relative(path)}: archive has no object files")
            for member_name, member_data in members:
                reports.append(_check_elf_bytes(target, member_data, f"{relative(path)}({member_name})"))
        else:
            reports.append(_check_elf_bytes(target, data, relative(path)))
    return reports

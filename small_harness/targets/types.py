"""What a target is, as frozen dataclasses: toolchains/<name>.toml read by target_file.py."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from small_harness.core.errors import HarnessError
from small_harness.core.paths import HARNESS_DIR

VLEN_PLACEHOLDER = "{vlen}"
# Runs a bare-metal program under QEMU system mode as if it were a user-mode one (see the script).
SEMIHOST_RUN = HARNESS_DIR / "toolchain" / "semihost_run.sh"
REF_ISA = "ref"  # arch/ref's table: in every build, the end of every chain
# The kinds every SIMD table provides; softmax stays portable (bound by exp, run once per model).
SIMD_KINDS = ("conv", "dwconv", "maxpool", "avgpool", "add", "copy", "fc")


@dataclass(frozen=True)
class Compiler:
    cc: str
    target: str | None  # clang's --target triple; None for a GCC cross compiler
    flags: tuple[str, ...]
    link_flags: tuple[str, ...]
    release_flags: tuple[str, ...]  # replace CMake's -O3 -DNDEBUG when given (CMAKE_C_FLAGS_RELEASE)
    helper_programs: tuple[str, ...]  # programs the compiler driver runs (e.g. the GNU linker)
    sysroot: str | None  # target headers and libraries; also QEMU's -L; None when native
    # Compilers that stand for `cc` on other Debian releases ([host.<release>] tables), so that the
    # committed CMake toolchain file can take whichever is installed.
    alternatives: tuple[str, ...] = ()

    @property
    def triple(self) -> str:
        """The GNU triple: clang's --target, or the prefix of a GCC cross compiler's name."""
        if self.target:
            return self.target
        return self.cc.rsplit("-", 1)[0] if self.cc.count("-") >= 2 else ""


@dataclass(frozen=True)
class Emulator:
    binary: str
    cpu: str  # QEMU -cpu value of variants that do not name their own
    # QEMU system mode: the board (-M) a bare-metal program boots on, with semihosting; None for
    # user mode (a Linux program).
    machine: str | None = None
    # VAR=value for QEMU's own process: sanitizer runtimes read their options from /proc/self/environ,
    # which under QEMU is QEMU's environment, not the guest's (-E does not reach them).
    environment: tuple[str, ...] = ()


@dataclass(frozen=True)
class KernelIsa:
    """One kernel table a target's build links: arch/<name>/, built with `flags`."""

    name: str
    flags: tuple[str, ...]
    fma_mnemonics: tuple[str, ...]  # mnemonic prefixes of its vector FMA, e.g. vfmadd ([] for ref)
    cpu: str | None  # QEMU -cpu for this table's variants ({vlen} takes each of vlens), or the default
    vlens: tuple[int, ...]  # vector lengths to run at (vector-length agnostic ISAs), or ()
    cpu_flags: tuple[str, ...] = ()  # /proc/cpuinfo flags a native run needs (QEMU cannot stand in)
    # Kinds it leaves to arch/ref on purpose (a port in progress: `invoke new-arch` lists them all,
    # and the porter removes each as its kernels arrive). Every other kind must run its own code.
    ref_kinds: tuple[str, ...] = ()
    # A QEMU CPU model of the target's machine that lacks this table: a test runs the build there
    # without forcing anything and requires the next table to serve (AVX-512 -> AVX2 on Haswell).
    fallback_cpu: str | None = None


@dataclass(frozen=True)
class Variant:
    """One way to run a target's build, and one CI job: a kernel table (forced with SMALL_KERNELS
    when the build has more than one) at one vector length (when the table declares some)."""

    target: str
    isa: str
    vlen: int | None
    suffix: str  # "vlen256", "sve-vlen512", "avx2", or "" for a target's only variant
    cpu: str | None  # QEMU -cpu, None when native
    forced: bool

    @property
    def label(self) -> str:
        """How tests, jobs and summaries name it: riscv64@vlen256, x86_64@avx2, armv7."""
        return f"{self.target}@{self.suffix}" if self.suffix else self.target

    def environment(self) -> dict[str, str]:
        return {"SMALL_KERNELS": self.isa} if self.forced else {}


@dataclass(frozen=True)
class ElfExpectations:
    machine: str  # pyelftools e_machine name, e.g. EM_RISCV
    elf_class: int  # 32 or 64
    byte_order: str  # "little" or "big" (EI_DATA)
    arm_float_abi: str | None  # "hard" for armhf
    riscv_arch_contains: tuple[str, ...]  # components of Tag_RISCV_arch, e.g. v1p0
    ppc64_abi: int | None  # 1 or 2: the ELFv1 / ELFv2 ABI of ppc64 (e_flags)
    objdump: str | None  # disassembler for the target, used to find the kernels' vector FMAs
    refuse: tuple["RefusedObject", ...] = ()  # objects the check must reject: proof that it can fail


@dataclass(frozen=True)
class RefusedObject:
    """An object built with the target's compiler plus `flags` is not for this target: the ELF
    check must reject it with a message containing `error`."""

    flags: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class MemoryRegion:
    name: str  # the board's name for it, e.g. "ITCM"
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


@dataclass(frozen=True)
class Board:
    """A bare-metal target's memory map ([board]): where the linker puts what
    (toolchains/<name>.ld, generated from it), and what `invoke size` measures against."""

    code: MemoryRegion  # flash holding the vector table (where the core boots), code and read-only data
    model: MemoryRegion | None  # flash holding an embedded model, when not `code`
    ram: MemoryRegion  # a firmware's data, bss, heap and stack
    test_ram: MemoryRegion  # the test programs' RAM: the runner receives whole layers and their data
    stack_bytes: int


@dataclass(frozen=True)
class Packages:
    """Debian packages by what they provide, so a missing tool names only its own package."""

    compiler: tuple[str, ...]
    sysroot: tuple[str, ...]
    emulator: tuple[str, ...]

    def all(self) -> tuple[str, ...]:
        unique: dict[str, None] = dict.fromkeys(self.compiler + self.sysroot + self.emulator)
        return tuple(unique)


@dataclass(frozen=True)
class CountsSpec:
    """A target's [counts] table: `invoke bench.counts` counts its instructions under QEMU with the TCG
    plugin (small_harness/counts/qemu_plugin/), and CI checks them against tests/baselines/<target>.json."""

    # Prefixes of one-lane (scalar) FMA mnemonics the kernel tables' fma_mnemonics do not already
    # match, e.g. RISC-V's fmadd.s: counted as FMAs of one lane.
    scalar_fma_mnemonics: tuple[str, ...] = ()


@dataclass(frozen=True)
class Target:
    name: str
    aliases: tuple[str, ...]
    description: str
    backend: str
    kernel_isas: tuple[KernelIsa, ...]  # the tables the build links, best first (ref's may be listed last)
    system_processor: str  # CMAKE_SYSTEM_PROCESSOR, i.e. `uname -m` on the target
    compiler: Compiler
    emulator: Emulator | None  # None: native, binaries run directly
    elf: ElfExpectations
    packages: Packages
    source: Path  # the TOML file
    fuzzing: bool = False  # `invoke fuzz` builds its libFuzzer targets with this target's toolchain
    counts: CountsSpec | None = None  # instruction counts under emulation ([counts]), or None
    board: Board | None = None  # bare metal: the board's memory map; None for a Linux target
    # Why this Debian release has no host toolchain for it ([host.<release>] unavailable), or "": the
    # host backend then skips it, saying that its route is the Docker toolchain.
    host_unavailable: str = ""
    releases_without_host: tuple[str, ...] = ()  # every release whose [host.<release>] says unavailable
    # The QEMU user-mode emulator of its triple (machines.toml), for a native target's fallback_cpu runs.
    user_qemu: str | None = None

    @property
    def is_bare_metal(self) -> bool:
        return self.board is not None

    @property
    def toolchain_id(self) -> str:
        """Names its toolchain image and container: the TOML file's stem, so a modified copy of a
        target (a test's broken flags) uses the same toolchain."""
        return self.source.stem

    @property
    def is_native(self) -> bool:
        return self.emulator is None

    @property
    def simd_isas(self) -> tuple[KernelIsa, ...]:
        """The tables built from arch/<isa>/ (all but arch/ref's, which every build has)."""
        return tuple(isa for isa in self.kernel_isas if isa.name != REF_ISA)

    def isa(self, name: str) -> KernelIsa:
        for isa in self.kernel_isas:
            if isa.name == name:
                return isa
        raise HarnessError(f"{self.name}: no kernel table {name}; it has {', '.join(i.name for i in self.kernel_isas)}")

    def variants(self) -> list[Variant]:
        """Every way its tests run it: each table (forced when there are several), at each of its
        vector lengths."""
        several = len(self.kernel_isas) > 1
        found = []
        for isa in self.kernel_isas:
            for vlen in isa.vlens or (None,):
                parts = ([isa.name] if several else []) + ([f"vlen{vlen}"] if vlen is not None else [])
                cpu = None
                if self.emulator is not None:
                    cpu = (isa.cpu or self.emulator.cpu).replace(VLEN_PLACEHOLDER, str(vlen))
                found.append(Variant(self.name, isa.name, vlen, "-".join(parts), cpu, forced=several))
        return found

    def fallback_variants(self) -> list[Variant]:
        """Per table with a fallback_cpu: the build run unforced on that CPU, which lacks the table, so
        that the library must take the next table by itself (Variant.isa). Labelled x86_64@no-avx512."""
        found = []
        for isa, following in zip(self.kernel_isas, self.kernel_isas[1:]):
            if isa.fallback_cpu:
                found.append(Variant(self.name, following.name, None, f"no-{isa.name}", isa.fallback_cpu, forced=False))
        return found

    def compiler_command(self) -> list[str]:
        """The compiler and the flags that choose the target, as shown to users."""
        target_flag = [f"--target={self.compiler.target}"] if self.compiler.target else []
        return [self.compiler.cc, *target_flag, *self.compiler.flags]

    def emulator_command(self, variant: Variant | None = None) -> list[str]:
        """The argv prefix that runs a target binary: [] when native, else qemu with -cpu and -L (after
        `env VAR=value` when the emulator declares an environment)."""
        if self.emulator is None:
            # a native target runs a variant with a CPU (a fallback_cpu) under its triple's QEMU
            if variant is None or not variant.cpu or not self.user_qemu:
                return []
            return [self.user_qemu, "-cpu", variant.cpu] + (["-L", self.compiler.sysroot] if self.compiler.sysroot else [])
        cpu = variant.cpu if variant is not None and variant.cpu else self.emulator.cpu
        if self.emulator.machine is not None:
            # System mode: the bridge passes the program's stdin and stdout through semihosting.
            # (-nographic: semihosting's console is QEMU's stdio, which the bridge sends to stderr.)
            return [str(SEMIHOST_RUN), self.emulator.binary, "-M", self.emulator.machine, "-cpu", cpu, "-nographic"]
        command = [self.emulator.binary, "-cpu", cpu]
        if self.compiler.sysroot:
            command += ["-L", self.compiler.sysroot]
        return (["env", *self.emulator.environment] if self.emulator.environment else []) + command

    def emulated(self, variant: Variant | None = None) -> bool:
        """Whether the variant runs under QEMU: every variant of an emulated target, and a native target's
        fallback runs (on a CPU model without a table)."""
        return bool(self.emulator_command(variant))

    def run_command(self, variant: Variant | None = None) -> list[str]:
        """The argv prefix that runs a target binary as the variant asks (None: the default CPU,
        and the library's own choice of tables): its environment (through `env`, which QEMU user
        mode passes on to the program), then the emulator."""
        environment = [f"{key}={value}" for key, value in (variant.environment() if variant else {}).items()]
        return (["env", *environment] if environment else []) + self.emulator_command(variant)

"""Target declarations: one toolchains/<name>.toml per target, loaded into frozen dataclasses.

A TOML file describes the host backend in its base tables ([compiler], [emulator]). A backend
table (e.g. [docker]) may hold its own [<backend>.compiler] / [<backend>.emulator] tables whose
keys replace the base ones when the target is loaded for that backend, so an image with other
compiler versions needs no second file.
"""

from __future__ import annotations

import dataclasses
import platform
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from small_harness.errors import HarnessError, TargetFileError, UnknownTargetError

REPO_ROOT = Path(__file__).resolve().parent.parent
TOOLCHAINS_DIR = REPO_ROOT / "toolchains"

# Backend tables a TOML file may contain; only the one being loaded is read.
KNOWN_BACKENDS = ("host", "docker")
DEFAULT_BACKEND = "host"
# Debian (and Ubuntu) releases a [host.<release>] table may name: its keys replace the [host] ones
# on that release (Debian 13 has no clang 16, say). THIS_RELEASE means the release of this machine.
KNOWN_RELEASES = ("bookworm", "trixie", "forky", "jammy", "noble")
THIS_RELEASE = "this"
VLEN_PLACEHOLDER = "{vlen}"


@dataclass(frozen=True)
class Compiler:
    cc: str
    target: str | None  # clang's --target triple; None for a GCC cross compiler
    flags: tuple[str, ...]
    link_flags: tuple[str, ...]
    helper_programs: tuple[str, ...]  # programs the compiler driver runs (e.g. the GNU linker)
    sysroot: str | None  # target headers and libraries; also QEMU's -L; None when native
    # Compilers that stand for `cc` on other Debian releases ([host.<release>] tables), so that the
    # committed CMake toolchain file can take whichever is installed.
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class Emulator:
    binary: str
    cpu: str  # QEMU -cpu value; contains {vlen} when the target has vector-length variants
    vlens: tuple[int, ...]  # first one is the default


@dataclass(frozen=True)
class ElfExpectations:
    machine: str  # pyelftools e_machine name, e.g. EM_RISCV
    elf_class: int  # 32 or 64
    arm_float_abi: str | None  # "hard" for armhf
    riscv_arch_contains: tuple[str, ...]  # components of Tag_RISCV_arch, e.g. v1p0
    objdump: str | None  # disassembler for the target, used to find the kernels' vector FMAs
    fma_mnemonics: tuple[str, ...]  # mnemonic prefixes of the ISA's vector FMA, e.g. vfmadd
    refuse: tuple["RefusedObject", ...] = ()  # objects the check must reject: proof that it can fail


@dataclass(frozen=True)
class RefusedObject:
    """An object built with the target's compiler plus `flags` is not for this target: the ELF
    check must reject it with a message containing `error`."""

    flags: tuple[str, ...]
    error: str


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
class Target:
    name: str
    aliases: tuple[str, ...]
    description: str
    backend: str
    kernel_isa: str  # folder under arch/
    kernel_isa_flags: tuple[str, ...]
    cpu_flags: tuple[str, ...]  # /proc/cpuinfo flags a native run needs (QEMU cannot stand in)
    system_processor: str  # CMAKE_SYSTEM_PROCESSOR, i.e. `uname -m` on the target
    compiler: Compiler
    emulator: Emulator | None  # None: native, binaries run directly
    elf: ElfExpectations
    packages: Packages
    source: Path  # the TOML file

    @property
    def toolchain_id(self) -> str:
        """Names its toolchain image and container: the TOML file's stem, so a modified copy of a
        target (a test's broken flags) uses the same toolchain."""
        return self.source.stem

    @property
    def is_native(self) -> bool:
        return self.emulator is None

    def compiler_command(self) -> list[str]:
        """The compiler and the flags that choose the target, as shown to users."""
        target_flag = [f"--target={self.compiler.target}"] if self.compiler.target else []
        return [self.compiler.cc, *target_flag, *self.compiler.flags]

    def emulator_command(self, vlen: int | None = None) -> list[str]:
        """The argv prefix that runs a target binary: [] when native, else qemu with -cpu and -L.
        `vlen` applies to targets with vector-length variants and is ignored by the others, so
        `--arch all --vlen 256` means what it says for RISC-V."""
        if self.emulator is None:
            return []
        cpu = self.emulator.cpu
        if self.emulator.vlens:
            chosen = self.emulator.vlens[0] if vlen is None else vlen
            if chosen not in self.emulator.vlens:
                declared = ", ".join(str(v) for v in self.emulator.vlens)
                raise HarnessError(f"{self.name}: VLEN {chosen} not declared; declared: {declared}")
            cpu = cpu.replace(VLEN_PLACEHOLDER, str(chosen))
        command = [self.emulator.binary, "-cpu", cpu]
        if self.compiler.sysroot:
            command += ["-L", self.compiler.sysroot]
        return command


class _Table:
    """Typed reads from one TOML table, remembering which keys were read so that a misspelt
    key is reported instead of silently ignored (a typo must not disable a check)."""

    def __init__(self, data: dict[str, Any], file: Path, where: str) -> None:
        self._data = data
        self._file = file
        self._where = where
        self._read: set[str] = set()

    def _error(self, key: str, problem: str) -> TargetFileError:
        place = f"[{self._where}] {key}" if self._where else key
        return TargetFileError(f"{_display(self._file)}: {place} {problem}")

    def has(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str) -> Any:
        self._read.add(key)
        if key not in self._data:
            raise self._error(key, "is missing")
        return self._data[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._error(key, "must be a non-empty string")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.has(key) else None

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._error(key, "must be an integer")
        return value

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if default is not None and not self.has(key):
            return default
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self._error(key, "must be a list of strings")
        return tuple(value)

    def integers(self, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
        if default is not None and not self.has(key):
            return default
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, int) for item in value):
            raise self._error(key, "must be a list of integers")
        return tuple(value)

    def table(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self._error(key, "must be a table")
        return value

    def optional_table(self, key: str) -> dict[str, Any] | None:
        return self.table(key) if self.has(key) else None

    def mark_read(self, key: str) -> None:
        self._read.add(key)

    def reject_unknown_keys(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise self._error(", ".join(unknown), "unknown (misspelt?)")


def _display(path: Path) -> str:
    """A path relative to the repo when it is inside it, for short messages."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _with_backend_overrides(
    base: dict[str, Any], backend_table: dict[str, Any] | None, key: str, file: Path, backend: str
) -> dict[str, Any]:
    """The base table with the backend's same-named table laid over it, key by key."""
    if backend_table is None or key not in backend_table:
        return base
    override = backend_table[key]
    if not isinstance(override, dict):
        raise TargetFileError(f"{_display(file)}: [{backend}.{key}] must be a table")
    return {**base, **override}


def _read_compiler(data: dict[str, Any], file: Path, where: str) -> Compiler:
    table = _Table(data, file, where)
    compiler = Compiler(
        cc=table.string("cc"),
        target=table.optional_string("target"),
        flags=table.strings("flags", default=()),
        link_flags=table.strings("link_flags", default=()),
        helper_programs=table.strings("helper_programs", default=()),
        sysroot=table.optional_string("sysroot"),
    )
    table.reject_unknown_keys()
    return compiler


def _read_emulator(data: dict[str, Any], file: Path, where: str) -> Emulator:
    table = _Table(data, file, where)
    emulator = Emulator(
        binary=table.string("binary"),
        cpu=table.string("cpu"),
        vlens=table.integers("vlens", default=()),
    )
    table.reject_unknown_keys()
    # A {vlen} without a list (or a list the CPU string ignores) would run one VLEN silently.
    if bool(emulator.vlens) != (VLEN_PLACEHOLDER in emulator.cpu):
        raise TargetFileError(
            f"{_display(file)}: [{where}] cpu must contain {VLEN_PLACEHOLDER} exactly when vlens is not empty"
        )
    return emulator


def _read_refused(data: Any, file: Path) -> tuple[RefusedObject, ...]:
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise TargetFileError(f"{_display(file)}: [[elf.refuse]] must be an array of tables")
    refused = []
    for entry in data:
        table = _Table(entry, file, "elf.refuse")
        refused.append(RefusedObject(flags=table.strings("flags"), error=table.string("error")))
        table.reject_unknown_keys()
    return tuple(refused)


def _read_elf(data: dict[str, Any], file: Path) -> ElfExpectations:
    table = _Table(data, file, "elf")
    table.mark_read("refuse")
    elf = ElfExpectations(
        machine=table.string("machine"),
        elf_class=table.integer("class"),
        arm_float_abi=table.optional_string("arm_float_abi"),
        riscv_arch_contains=table.strings("riscv_arch_contains", default=()),
        objdump=table.optional_string("objdump"),
        fma_mnemonics=table.strings("fma_mnemonics", default=()),
        refuse=_read_refused(data.get("refuse", []), file),
    )
    table.reject_unknown_keys()
    if elf.elf_class not in (32, 64):
        raise TargetFileError(f"{_display(file)}: [elf] class must be 32 or 64")
    if elf.arm_float_abi not in (None, "hard", "soft"):
        raise TargetFileError(f"{_display(file)}: [elf] arm_float_abi must be \"hard\" or \"soft\"")
    return elf


def _read_system_processor(data: dict[str, Any], file: Path) -> str:
    table = _Table(data, file, "cmake")
    system_processor = table.string("system_processor")
    table.reject_unknown_keys()
    return system_processor


def _read_packages(backend_table: dict[str, Any] | None, file: Path, backend: str) -> Packages:
    if backend_table is None:
        raise TargetFileError(f"{_display(file)}: has no [{backend}] table for the {backend} backend")
    backend_reader = _Table(backend_table, file, backend)
    table = _Table(backend_reader.table("packages"), file, f"{backend}.packages")
    # compiler and emulator overrides were applied by the caller; other keys are the backend's own.
    for key in ("compiler", "emulator"):
        backend_reader.mark_read(key)
    packages = Packages(
        compiler=table.strings("compiler"),
        sysroot=table.strings("sysroot", default=()),
        emulator=table.strings("emulator", default=()),
    )
    table.reject_unknown_keys()
    backend_reader.reject_unknown_keys()
    return packages


def host_release(os_release: Path = Path("/etc/os-release")) -> str:
    """This machine's release codename (bookworm, trixie ...), or "" when unknown."""
    try:
        for line in os_release.read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


def _with_release_layer(backend_table: dict[str, Any] | None, release: str | None, file: Path,
                        backend: str) -> tuple[dict[str, Any] | None, list[str]]:
    """The host table with its [host.<release>] table laid over it (compiler and emulator key by
    key, packages as a whole), and the compilers that all [host.<release>] tables name."""
    if backend_table is None:
        return None, []
    layers = {key: value for key, value in backend_table.items() if key in KNOWN_RELEASES}
    merged = {key: value for key, value in backend_table.items() if key not in KNOWN_RELEASES}
    release_compilers = []
    for name, layer in layers.items():
        if not isinstance(layer, dict) or any(key not in ("compiler", "emulator", "packages") or
                                              not isinstance(value, dict) for key, value in layer.items()):
            raise TargetFileError(f"{_display(file)}: [{backend}.{name}] may hold compiler, emulator and packages "
                                  "tables only")
        if "cc" in layer.get("compiler", {}):
            release_compilers.append(str(layer["compiler"]["cc"]))
    for key, value in layers.get(release or "", {}).items():
        merged[key] = value if key == "packages" else {**merged.get(key, {}), **value}
    return merged, release_compilers


def load_target(file: Path, backend: str = DEFAULT_BACKEND, release: str | None = THIS_RELEASE) -> Target:
    """Parse one toolchains/<name>.toml for the given backend. For the host backend, `release`
    picks a [host.<release>] layer: this machine's release by default, none with None."""
    if backend not in KNOWN_BACKENDS:
        raise HarnessError(f"unknown backend '{backend}'; known: {', '.join(KNOWN_BACKENDS)}")
    try:
        with file.open("rb") as stream:
            data = tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise TargetFileError(f"{_display(file)}: not valid TOML: {error}") from error

    top = _Table(data, file, "")
    name = top.string("name")
    if name != file.stem:
        raise TargetFileError(f"{_display(file)}: name '{name}' must match the file name")
    backend_table = top.optional_table(backend)
    for other in KNOWN_BACKENDS:
        top.mark_read(other)  # tables of other backends are read only when loading for them
    if release == THIS_RELEASE:
        release = host_release()
    compilers: list[str] = []  # every compiler the host table names, for any release
    if backend == DEFAULT_BACKEND:
        compilers.append(str(_with_backend_overrides(top.table("compiler"), backend_table, "compiler", file,
                                                     backend).get("cc", "")))
        backend_table, release_compilers = _with_release_layer(backend_table, release, file, backend)
        compilers += release_compilers

    compiler_data = _with_backend_overrides(top.table("compiler"), backend_table, "compiler", file, backend)
    emulator_base = top.optional_table("emulator")
    emulator = None
    if emulator_base is not None:
        emulator_data = _with_backend_overrides(emulator_base, backend_table, "emulator", file, backend)
        emulator = _read_emulator(emulator_data, file, "emulator")

    target = Target(
        name=name,
        aliases=top.strings("aliases", default=()),
        description=top.string("description"),
        backend=backend,
        kernel_isa=top.string("kernel_isa"),
        kernel_isa_flags=top.strings("kernel_isa_flags", default=()),
        cpu_flags=top.strings("cpu_flags", default=()),
        system_processor=_read_system_processor(top.table("cmake"), file),
        compiler=dataclasses.replace(_read_compiler(compiler_data, file, "compiler"), alternatives=tuple(
            dict.fromkeys(cc for cc in compilers if cc and cc != compiler_data.get("cc")))),
        emulator=emulator,
        elf=_read_elf(top.table("elf"), file),
        packages=_read_packages(backend_table, file, backend),
        source=file,
    )
    top.reject_unknown_keys()
    return target


def load_targets(backend: str = DEFAULT_BACKEND, directory: Path = TOOLCHAINS_DIR,
                 release: str | None = THIS_RELEASE) -> dict[str, Target]:
    """All targets declared in toolchains/, by canonical name, in name order."""
    targets: dict[str, Target] = {}
    for file in sorted(directory.glob("*.toml")):
        target = load_target(file, backend, release)
        targets[target.name] = target
    _check_names_unique(targets)
    return dict(sorted(targets.items()))  # by name: "x86_64" before "x86_64-avx512"


def _check_names_unique(targets: dict[str, Target]) -> None:
    owner: dict[str, str] = {name: name for name in targets}
    for target in targets.values():
        for alias in target.aliases:
            if alias in owner or alias in ("all", NATIVE):
                taken_by = owner.get(alias, f"the keyword '{alias}'")
                raise TargetFileError(f"{_display(target.source)}: alias '{alias}' already names {taken_by}")
            owner[alias] = target.name


NATIVE = "native"  # the default --arch: the first target that runs on this machine without an emulator


def known_names(targets: dict[str, Target]) -> str:
    """e.g. "aarch64 (arm64), armv7 (arm), ..., all, native" for messages."""
    parts = [f"{t.name} ({', '.join(t.aliases)})" if t.aliases else t.name for t in targets.values()]
    return ", ".join(parts + ["all", NATIVE])


def native_target(targets: dict[str, Target]) -> Target:
    """The first target, by name, that runs here without an emulator and whose CPU features this
    machine has."""
    for target in targets.values():
        if target.is_native and target.system_processor == platform.machine() and not missing_cpu_flags(target):
            return target
    raise UnknownTargetError(f"no declared target runs natively on this {platform.machine()} machine; "
                             f"name one: {known_names(targets)}")


def resolve_targets(arch: str, backend: str = DEFAULT_BACKEND) -> list[Target]:
    """Targets for an --arch value: a name, an alias, a comma-separated list of them, all, or
    native."""
    targets = load_targets(backend)
    by_alias = {alias: target for target in targets.values() for alias in target.aliases}
    chosen: dict[str, Target] = {}  # keeps the order given, without duplicates
    words = [word.strip() for word in arch.split(",") if word.strip()]
    if not words:
        raise UnknownTargetError(f"no target given; known: {known_names(targets)}")
    for word in words:
        if word == "all":
            chosen.update(targets)
        elif word == NATIVE:
            native = native_target(targets)
            chosen[native.name] = native
        elif word in targets:
            chosen[word] = targets[word]
        elif word in by_alias:
            chosen[by_alias[word].name] = by_alias[word]
        else:
            raise UnknownTargetError(f"unknown target '{word}'; known: {known_names(targets)}")
    return list(chosen.values())


VARIANT_SEPARATOR = "@vlen"


def select_vlens(target: Target, spec: str = "all") -> list[int | None]:
    """The vector lengths to run `target` at: every declared one for "all", else those of a comma
    list that the target declares; [None] for a target without vector-length variants."""
    declared = target.emulator.vlens if target.emulator else ()
    if not declared:
        return [None]
    if spec == "all":
        return list(declared)
    try:
        wanted = [int(word) for word in spec.split(",")]
    except ValueError:
        raise HarnessError(f"--vlen takes 'all' or a comma list of numbers, not '{spec}'") from None
    unknown = [v for v in wanted if v not in declared]
    if unknown:
        raise HarnessError(f"{target.name}: VLEN {unknown[0]} not declared; declared: "
                           f"{', '.join(str(v) for v in declared)}")
    return list(wanted)


def variant_label(target: Target, vlen: int | None) -> str:
    """How tests and summaries name a target run at one vector length: riscv64@vlen256."""
    return target.name if vlen is None else f"{target.name}{VARIANT_SEPARATOR}{vlen}"


def parse_variant_label(label: str) -> tuple[str, int | None]:
    name, _, vlen = label.partition(VARIANT_SEPARATOR)
    return name, int(vlen) if vlen else None


def missing_cpu_flags(target: Target, cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The CPU features a native target needs that this machine lacks ([] for emulated targets,
    since QEMU provides the CPU)."""
    if not target.is_native or not target.cpu_flags:
        return []
    have: set[str] = set()
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            break
    return [flag for flag in target.cpu_flags if flag not in have]


"""Reading toolchains/<name>.toml into a Target, strictly: a misspelt key, a field of the wrong type,
and a field that belongs to another target (copied from the nearest TOML and left stale) are each
one clear error.

A TOML file describes the host backend in its base tables ([compiler], [emulator]). A backend table
(e.g. [docker]) may hold its own [<backend>.compiler] / [<backend>.emulator] tables whose keys replace
the base ones for that backend, and on the host a [host.<release>] table does the same on one Debian
release, so an image or a release with other compiler names needs no second file.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from pathlib import Path
from typing import Any

from small_harness.core.paths import relative
from small_harness.core.errors import HarnessError, TargetFileError
from small_harness.targets.types import (REF_ISA, SIMD_KINDS, VLEN_PLACEHOLDER, Board, Compiler, CountsSpec, ElfExpectations, Emulator, KernelIsa, MemoryRegion, Packages, RefusedObject, Target)

MACHINES_FILE = Path(__file__).with_name("machines.toml")
BOARDS_FILE = Path(__file__).with_name("boards.toml")

# Backend tables a TOML file may contain; only the one being loaded is read.
KNOWN_BACKENDS = ("host", "docker")
DEFAULT_BACKEND = "host"
# Debian (and Ubuntu) releases a [host.<release>] table may name: its keys replace the [host] ones
# on that release (Debian 13 has no clang 16, say). THIS_RELEASE means the release of this machine.
KNOWN_RELEASES = ("bookworm", "trixie", "forky", "jammy", "noble")
THIS_RELEASE = "this"
# [host.<release>] unavailable = "why": that release has no host toolchain for the target (Debian 12 has
# no loong64 cross compiler); the host backend skips it saying so, and its route there is Docker.
UNAVAILABLE = "unavailable"


class _Table:
    """Typed reads from one TOML table, remembering which keys were read so that a misspelt
    key is reported instead of silently ignored (a typo must not disable a check)."""

    def __init__(self, data: dict[str, Any], file: Path, where: str) -> None:
        self._data = data
        self._file = file
        self._where = where
        self._read: set[str] = set()

    def error(self, key: str, problem: str) -> TargetFileError:
        place = f"[{self._where}] {key}" if self._where else key
        return TargetFileError(f"{relative(self._file)}: {place} {problem}")

    def has(self, key: str) -> bool:
        return key in self._data

    def _get(self, key: str) -> Any:
        self._read.add(key)
        if key not in self._data:
            raise self.error(key, "is missing")
        return self._data[key]

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self.error(key, "must be a non-empty string")
        return value

    def optional_string(self, key: str) -> str | None:
        return self.string(key) if self.has(key) else None

    def integer(self, key: str) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, "must be an integer")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        value = self._get(key)
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def optional_integer(self, key: str) -> int | None:
        return self.integer(key) if self.has(key) else None

    def strings(self, key: str, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        if default is not None and not self.has(key):
            return default
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, "must be a list of strings")
        return tuple(value)

    def integers(self, key: str, default: tuple[int, ...] | None = None) -> tuple[int, ...]:
        if default is not None and not self.has(key):
            return default
        value = self._get(key)
        if not isinstance(value, list) or not all(isinstance(item, int) for item in value):
            raise self.error(key, "must be a list of integers")
        return tuple(value)

    def table(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if not isinstance(value, dict):
            raise self.error(key, "must be a table")
        return value

    def optional_table(self, key: str) -> dict[str, Any] | None:
        return self.table(key) if self.has(key) else None

    def mark_read(self, key: str) -> None:
        self._read.add(key)

    def reject_unknown_keys(self) -> None:
        unknown = sorted(set(self._data) - self._read)
        if unknown:
            raise self.error(", ".join(unknown), "unknown (misspelt?)")


def host_release(os_release: Path = Path("/etc/os-release")) -> str:
    """This machine's release codename (bookworm, trixie ...), or "" when unknown."""
    try:
        for line in os_release.read_text().splitlines():
            if line.startswith("VERSION_CODENAME="):
                return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return ""


@functools.cache
def machine_facts() -> dict[str, dict[str, Any]]:
    """small_harness/targets/machines.toml: what each GNU triple says about a target."""
    with MACHINES_FILE.open("rb") as stream:
        return tomllib.load(stream)


@functools.cache
def board_facts() -> dict[str, dict[str, Any]]:
    """small_harness/targets/boards.toml: what each QEMU system-mode board offers a bare-metal target."""
    with BOARDS_FILE.open("rb") as stream:
        return tomllib.load(stream)


def _with_backend_overrides(base: dict[str, Any], backend_table: dict[str, Any] | None, key: str, file: Path,
                            backend: str) -> dict[str, Any]:
    """The base table with the backend's same-named table laid over it, key by key."""
    if backend_table is None or key not in backend_table:
        return base
    override = backend_table[key]
    if not isinstance(override, dict):
        raise TargetFileError(f"{relative(file)}: [{backend}.{key}] must be a table")
    return {**base, **override}


def _with_release_layer(backend_table: dict[str, Any] | None, release: str | None, file: Path,
                        backend: str) -> tuple[dict[str, Any] | None, list[str], str, list[str]]:
    """The host table with its [host.<release>] table laid over it (compiler and emulator key by
    key, packages as a whole), the compilers that all [host.<release>] tables name, why this release
    has no host toolchain for the target ("" when it has one: [host.<release>] unavailable), and every
    release that has none."""
    if backend_table is None:
        return None, [], "", []
    layers = {key: value for key, value in backend_table.items() if key in KNOWN_RELEASES}
    merged = {key: value for key, value in backend_table.items() if key not in KNOWN_RELEASES}
    release_compilers = []
    for name, layer in layers.items():
        if not isinstance(layer, dict) or any(
                not (isinstance(value, dict) and key in ("compiler", "emulator", "packages") or
                     isinstance(value, str) and value and key == UNAVAILABLE) for key, value in layer.items()):
            raise TargetFileError(f"{relative(file)}: [{backend}.{name}] may hold compiler, emulator and packages "
                                  f"tables and an {UNAVAILABLE} string only")
        if UNAVAILABLE in layer and len(layer) > 1:
            raise TargetFileError(f"{relative(file)}: [{backend}.{name}] says {UNAVAILABLE}: it holds nothing else")
        if "cc" in layer.get("compiler", {}):
            release_compilers.append(str(layer["compiler"]["cc"]))
    layer = layers.get(release or "", {})
    for key, value in layer.items():
        if key != UNAVAILABLE:
            merged[key] = value if key == "packages" else {**merged.get(key, {}), **value}
    without = [name for name, value in layers.items() if UNAVAILABLE in value]
    return merged, release_compilers, str(layer.get(UNAVAILABLE, "")), without


def _read_compiler(data: dict[str, Any], file: Path) -> Compiler:
    table = _Table(data, file, "compiler")
    compiler = Compiler(
        cc=table.string("cc"),
        target=table.optional_string("target"),
        flags=table.strings("flags", default=()),
        link_flags=table.strings("link_flags", default=()),
        release_flags=table.strings("release_flags", default=()),
        helper_programs=table.strings("helper_programs", default=()),
        sysroot=table.optional_string("sysroot"),
    )
    table.reject_unknown_keys()
    return compiler


def _read_emulator(data: dict[str, Any], file: Path) -> Emulator:
    table = _Table(data, file, "emulator")
    emulator = Emulator(binary=table.string("binary"), cpu=table.string("cpu"),
                        environment=tuple(table.strings("environment", default=())),
                        machine=table.optional_string("machine"))
    if any("=" not in entry for entry in emulator.environment):
        raise table.error("environment", "must be a list of VAR=value strings")
    table.reject_unknown_keys()
    if VLEN_PLACEHOLDER in emulator.cpu:
        raise table.error("cpu", f"is the default CPU and takes no {VLEN_PLACEHOLDER}: give it in an [isa.<name>] table")
    return emulator


def _read_counts(top: _Table, emulated: bool, file: Path) -> CountsSpec | None:
    data = top.optional_table("counts")
    if data is None:
        return None
    if not emulated:
        raise TargetFileError(f"{relative(file)}: [counts] needs an [emulator]: instructions are counted under QEMU")
    table = _Table(data, file, "counts")
    spec = CountsSpec(scalar_fma_mnemonics=table.strings("scalar_fma_mnemonics", default=()))
    table.reject_unknown_keys()
    return spec


def _read_isas(top: _Table, file: Path) -> tuple[KernelIsa, ...]:
    names = top.strings("kernel_isas")
    if not names:
        raise top.error("kernel_isas", f'must name at least one kernel table (["{REF_ISA}"] for portable C only)')
    if len(set(names)) != len(names):
        raise top.error("kernel_isas", "names a table twice")
    if REF_ISA in names and names[-1] != REF_ISA:
        raise top.error("kernel_isas", f"lists {REF_ISA} before another table: arch/ref's ends every chain")
    tables = top.optional_table("isa") or {}
    isas = []
    for name in names:
        data = tables.get(name)
        if name == REF_ISA:
            if data is not None:
                raise TargetFileError(f"{relative(file)}: [isa.{REF_ISA}] must not exist: arch/ref needs no flags")
            isas.append(KernelIsa(REF_ISA, (), (), None, ()))
            continue
        if not isinstance(data, dict):
            raise TargetFileError(f"{relative(file)}: kernel_isas names {name}, but there is no [isa.{name}] table")
        table = _Table(data, file, f"isa.{name}")
        isa = KernelIsa(name=name, flags=table.strings("flags", default=()),
                        fma_mnemonics=table.strings("fma_mnemonics"), cpu=table.optional_string("cpu"),
                        vlens=table.integers("vlens", default=()), cpu_flags=table.strings("cpu_flags", default=()),
                        ref_kinds=table.strings("ref_kinds", default=()),
                        fallback_cpu=table.optional_string("fallback_cpu"))
        table.reject_unknown_keys()
        unknown_kinds = sorted(set(isa.ref_kinds) - set(SIMD_KINDS))
        if unknown_kinds:
            raise table.error("ref_kinds", f"names {unknown_kinds[0]}, not one of {', '.join(SIMD_KINDS)}")
        # A {vlen} without a list (or a list the CPU string ignores) would run one length silently.
        if bool(isa.vlens) != (VLEN_PLACEHOLDER in (isa.cpu or "")):
            raise table.error("cpu", f"must contain {VLEN_PLACEHOLDER} exactly when vlens is not empty")
        isas.append(isa)
    extra = sorted(set(tables) - set(names))
    if extra:
        raise TargetFileError(f"{relative(file)}: [isa.{extra[0]}] is not in kernel_isas")
    # The library chooses among several tables at run time: each choice but the last is tested on a CPU
    # without the table (Target.fallback_variants), so each names one.
    for isa, following in zip(isas, isas[1:]):
        if isa.fallback_cpu is None:
            raise TargetFileError(f"{relative(file)}: [isa.{isa.name}] fallback_cpu is missing: with several kernel "
                                  f"tables, each but the last names a QEMU CPU without it, on which the build must "
                                  f"take {following.name} by itself (docs/PORTING.md)")
    if isas[-1].fallback_cpu is not None:
        raise TargetFileError(f"{relative(file)}: [isa.{isas[-1].name}] fallback_cpu: the last table has none to "
                              "fall back to")
    return tuple(isas)


def _read_refused(data: Any, file: Path) -> tuple[RefusedObject, ...]:
    if not isinstance(data, list) or not all(isinstance(entry, dict) for entry in data):
        raise TargetFileError(f"{relative(file)}: [[elf.refuse]] must be an array of tables")
    refused = []
    for entry in data:
        table = _Table(entry, file, "elf.refuse")
        refused.append(RefusedObject(flags=table.strings("flags"), error=table.string("error")))
        table.reject_unknown_keys()
    return tuple(refused)


def _read_region(board: _Table, key: str, file: Path) -> MemoryRegion:
    table = _Table(board.table(key), file, f"board.{key}")
    region = MemoryRegion(name=table.string("name"), origin=table.integer("origin"), size=table.integer("size"))
    table.reject_unknown_keys()
    if region.origin < 0 or region.size <= 0 or region.end > 1 << 32:
        raise table.error("size", "must give a region of the 32-bit address space (origin >= 0, size > 0)")
    return region


def _read_board(data: dict[str, Any], file: Path) -> Board:
    table = _Table(data, file, "board")
    board = Board(code=_read_region(table, "code", file),
                  model=_read_region(table, "model", file) if table.has("model") else None,
                  ram=_read_region(table, "ram", file), test_ram=_read_region(table, "test_ram", file),
                  stack_bytes=table.integer("stack_bytes"))
    table.reject_unknown_keys()
    regions = [board.code, board.ram] + ([board.model] if board.model else [])
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            if a.origin < b.end and b.origin < a.end:
                raise table.error(a.name, f"overlaps {b.name}")
    if not 0 < board.stack_bytes < board.ram.size:
        raise table.error("stack_bytes", "must be positive and less than the RAM")
    return board


def _read_elf(data: dict[str, Any], file: Path) -> ElfExpectations:
    table = _Table(data, file, "elf")
    table.mark_read("refuse")
    elf = ElfExpectations(
        machine=table.string("machine"),
        elf_class=table.integer("class"),
        byte_order=table.string("byte_order"),
        arm_float_abi=table.optional_string("arm_float_abi"),
        riscv_arch_contains=table.strings("riscv_arch_contains", default=()),
        ppc64_abi=table.optional_integer("ppc64_abi"),
        objdump=table.optional_string("objdump"),
        refuse=_read_refused(data.get("refuse", []), file),
    )
    table.reject_unknown_keys()
    if elf.elf_class not in (32, 64):
        raise table.error("class", "must be 32 or 64")
    if elf.byte_order not in ("little", "big"):
        raise table.error("byte_order", 'must be "little" or "big"')
    if elf.arm_float_abi not in (None, "hard", "soft"):
        raise table.error("arm_float_abi", 'must be "hard" or "soft"')
    if elf.ppc64_abi not in (None, 1, 2):
        raise table.error("ppc64_abi", "must be 1 (ELFv1) or 2 (ELFv2)")
    return elf


def _read_system_processor(data: dict[str, Any], file: Path) -> str:
    table = _Table(data, file, "cmake")
    system_processor = table.string("system_processor")
    table.reject_unknown_keys()
    return system_processor


def _read_packages(backend_table: dict[str, Any] | None, file: Path, backend: str) -> Packages:
    if backend_table is None:
        raise TargetFileError(f"{relative(file)}: has no [{backend}] table for the {backend} backend")
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


def check_consistent(target: Target) -> None:
    """A field that belongs to another target is an error: against what the compiler's triple says
    (small_harness/targets/machines.toml), and the description against the emulator. This is what catches
    a TOML copied from the nearest target with a field left stale."""
    triple = target.compiler.triple
    facts = machine_facts().get(triple)
    where = f"{relative(target.source)}"
    if facts is not None:
        expected = {"[elf] machine": (target.elf.machine, facts["machine"]),
                    "[elf] class": (target.elf.elf_class, facts["class"]),
                    "[elf] byte_order": (target.elf.byte_order, facts["byte_order"]),
                    "[cmake] system_processor": (target.system_processor, facts["processor"])}
        if target.emulator is not None:
            expected["[emulator] binary"] = (target.emulator.binary, facts["qemu"])
        for field, (have, want) in expected.items():
            if have != want:
                raise TargetFileError(f"{where}: {field} is {have!r}, but the compiler's triple {triple} says "
                                      f"{want!r} (small_harness/targets/machines.toml): a field left from another target?")
    if target.elf.objdump and triple and not target.elf.objdump.startswith(f"{triple}-"):
        raise TargetFileError(f"{where}: [elf] objdump {target.elf.objdump} is not the {triple} one "
                              f"({triple}-objdump): a field left from another target?")
    words = target.description.replace(",", " ").split()
    others = [word for word in words if word.startswith("qemu-") and
              (target.emulator is None or word != target.emulator.binary)]
    if others or (target.emulator is not None and target.emulator.binary not in words):
        runs = f"under {target.emulator.binary}" if target.emulator else "natively"
        raise TargetFileError(f"{where}: the description {target.description!r} must say it runs {runs}"
                              f"{f', not under {others[0]}' if others else ''}: a field left from another target?")
    if target.emulator is None and "native" not in target.description:
        raise TargetFileError(f"{where}: the description {target.description!r} must say it runs natively")


def load_target(file: Path, backend: str = DEFAULT_BACKEND, release: str | None = THIS_RELEASE) -> Target:
    """Parse one toolchains/<name>.toml for the given backend. For the host backend, `release`
    picks a [host.<release>] layer: this machine's release by default, none with None."""
    if backend not in KNOWN_BACKENDS:
        raise HarnessError(f"unknown backend '{backend}'; known: {', '.join(KNOWN_BACKENDS)}")
    try:
        with file.open("rb") as stream:
            data = tomllib.load(stream)
    except tomllib.TOMLDecodeError as error:
        raise TargetFileError(f"{relative(file)}: not valid TOML: {error}") from error

    top = _Table(data, file, "")
    name = top.string("name")
    if name != file.stem:
        raise TargetFileError(f"{relative(file)}: name '{name}' must match the file name")
    backend_table = top.optional_table(backend)
    for other in KNOWN_BACKENDS:
        top.mark_read(other)  # tables of other backends are read only when loading for them
    if release == THIS_RELEASE:
        release = host_release()
    compilers: list[str] = []  # every compiler the host table names, for any release
    host_unavailable, releases_without = "", []
    if backend == DEFAULT_BACKEND:
        compilers.append(str(_with_backend_overrides(top.table("compiler"), backend_table, "compiler", file,
                                                     backend).get("cc", "")))
        backend_table, release_compilers, host_unavailable, releases_without = _with_release_layer(
            backend_table, release, file, backend)
        compilers += release_compilers

    compiler_data = _with_backend_overrides(top.table("compiler"), backend_table, "compiler", file, backend)
    emulator_base = top.optional_table("emulator")
    emulator = None
    if emulator_base is not None:
        emulator = _read_emulator(_with_backend_overrides(emulator_base, backend_table, "emulator", file, backend), file)

    compiler = _read_compiler(compiler_data, file)
    target = Target(
        name=name,
        aliases=top.strings("aliases", default=()),
        description=top.string("description"),
        backend=backend,
        kernel_isas=_read_isas(top, file),
        system_processor=_read_system_processor(top.table("cmake"), file),
        compiler=dataclasses.replace(compiler, alternatives=tuple(
            dict.fromkeys(cc for cc in compilers if cc and cc != compiler.cc))),
        emulator=emulator,
        elf=_read_elf(top.table("elf"), file),
        packages=_read_packages(backend_table, file, backend),
        source=file,
        fuzzing=top.boolean("fuzzing", default=False),
        board=_read_board(top.table("board"), file) if top.has("board") else None,
        counts=_read_counts(top, emulator is not None, file),
        host_unavailable=f"{host_unavailable} (this machine runs {release})" if host_unavailable else "",
        releases_without_host=tuple(releases_without),
        user_qemu=str(machine_facts().get(compiler.triple or "", {}).get("qemu", "")) or None,
    )
    top.reject_unknown_keys()
    if (target.board is None) != (target.emulator is None or target.emulator.machine is None):
        raise TargetFileError(f"{relative(file)}: a bare-metal target has both a [board] table and an [emulator] "
                              "machine (QEMU system mode); a Linux target has neither")
    check_consistent(target)
    return target

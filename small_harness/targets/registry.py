"""Targets: every toolchains/<name>.toml (target_file.py reads one; target_types.py says what it
holds), chosen by --arch, and their variants, chosen by --variant."""

from __future__ import annotations

import platform
from pathlib import Path

from small_harness.core.paths import relative
from small_harness.core.errors import HarnessError, TargetFileError, UnknownTargetError
from small_harness.targets.toml_file import DEFAULT_BACKEND, KNOWN_BACKENDS, THIS_RELEASE, host_release, load_target
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import REF_ISA, VLEN_PLACEHOLDER, KernelIsa, Target, Variant

__all__ = ["DEFAULT_BACKEND", "KNOWN_BACKENDS", "NATIVE", "REF_ISA", "REPO_ROOT", "THIS_RELEASE", "TOOLCHAINS_DIR",
           "VLEN_PLACEHOLDER", "KernelIsa", "Target", "Variant", "host_release", "known_names", "load_target",
           "load_targets", "check_variant_spec", "cpu_flags", "missing_cpu_flags", "native_target", "resolve_targets",
           "select_variants", "variant_named"]

TOOLCHAINS_DIR = REPO_ROOT / "toolchains"
NATIVE = "native"  # the default --arch: the first target that runs on this machine without an emulator


def load_targets(backend: str = DEFAULT_BACKEND, directory: Path = TOOLCHAINS_DIR,
                 release: str | None = THIS_RELEASE) -> dict[str, Target]:
    """All targets declared in toolchains/, by canonical name, in name order."""
    targets: dict[str, Target] = {}
    for file in sorted(directory.glob("*.toml")):
        target = load_target(file, backend, release)
        targets[target.name] = target
    _check_names_unique(targets)
    return dict(sorted(targets.items()))


def _check_names_unique(targets: dict[str, Target]) -> None:
    owner: dict[str, str] = {name: name for name in targets}
    for target in targets.values():
        for alias in target.aliases:
            if alias in owner or alias in ("all", NATIVE):
                taken_by = owner.get(alias, f"the keyword '{alias}'")
                raise TargetFileError(f"{relative(target.source)}: alias '{alias}' already names {taken_by}")
            owner[alias] = target.name


def known_names(targets: dict[str, Target]) -> str:
    """e.g. "aarch64 (arm64), armv7 (arm), ..., all, native" for messages."""
    parts = [f"{t.name} ({', '.join(t.aliases)})" if t.aliases else t.name for t in targets.values()]
    return ", ".join(parts + ["all", NATIVE])


def missing_cpu_flags(target: Target, variant: Variant | None = None, cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """The CPU features a native variant (or, without one, any table of a native target) needs that
    this machine lacks ([] for emulated targets, since QEMU provides the CPU)."""
    if not target.is_native:
        return []
    needed = target.isa(variant.isa).cpu_flags if variant else ()
    if not needed:
        return []
    have = cpu_flags(cpuinfo)
    return [flag for flag in needed if flag not in have]


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    """This machine's CPU feature flags, as /proc/cpuinfo lists them (its first CPU)."""
    for line in cpuinfo.read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def native_target(targets: dict[str, Target]) -> Target:
    """The first target, by name, that runs here without an emulator."""
    for target in targets.values():
        if target.is_native and target.system_processor == platform.machine():
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


def select_variants(target: Target, spec: str = "all") -> list[Variant]:
    """The variants to run: all of them for "all", else those a comma list names, by suffix
    (vlen256, avx2, sve-vlen512) or label (riscv64@vlen256). A list that names none of this
    target's variants leaves it whole, so `--arch all --variant vlen256` runs RISC-V at one length
    and the other targets as usual."""
    variants = target.variants()
    if spec == "all":
        return variants
    words = {word.strip() for word in spec.split(",") if word.strip()}
    chosen = [v for v in variants if v.suffix in words or v.label in words]
    return chosen or variants


def check_variant_spec(targets: list[Target], spec: str) -> None:
    """Every word of a --variant list must name a variant of some target."""
    if spec == "all":
        return
    known = {name for t in targets for v in t.variants() for name in (v.suffix, v.label) if name}
    unknown = [word.strip() for word in spec.split(",") if word.strip() and word.strip() not in known]
    if unknown:
        raise HarnessError(f"no variant '{unknown[0]}' among: {', '.join(v.label for t in targets for v in t.variants())}")


def variant_named(label: str, backend: str = DEFAULT_BACKEND) -> tuple[Target, Variant]:
    """The target and variant of a label such as riscv64@vlen256 or x86_64@no-avx512."""
    name = label.split("@", 1)[0]
    (target,) = resolve_targets(name, backend)
    # the variants its tests run, and its fallback runs (x86_64@no-avx512: unforced, on a CPU without the table)
    known = target.variants() + target.fallback_variants()
    for variant in known:
        if variant.label == label:
            return target, variant
    raise HarnessError(f"{name} has no variant {label}; it has {', '.join(v.label for v in known)}")

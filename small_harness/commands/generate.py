"""`invoke generate`, `invoke new-arch` and `invoke new-isa`: the files made from the targets' TOML, and
the first step of a port."""

from __future__ import annotations

from pathlib import Path

from small_harness.core.paths import relative
from small_harness.generate.files import regenerate
from small_harness.targets.new_arch import new_arch as new_arch_files
from small_harness.targets.new_arch import new_isa as new_isa_files


def _print_written(paths: list[Path]) -> None:
    for path in paths:
        print(f"wrote {relative(path)}")


def generate() -> None:
    changed = regenerate()
    _print_written(changed)
    if not changed:
        print("generated files are up to date")


def new_arch(name: str, triple: str, isa: str, like: str, cflags: list[str], isa_flags: list[str], fma: list[str],
             cpu: str, description: str, aliases: list[str], machine: str) -> None:
    written = new_arch_files(name, triple, isa, like, cflags, isa_flags, fma, cpu, description, aliases, machine)
    _print_written(written + regenerate())
    print(f"next: invoke test --arch {name}; then fill in the primitives (see docs/PORTING.md)")


def new_isa(target: str, isa: str, like: str, isa_flags: list[str], fma: list[str], cpu: str, vlens: list[int],
            fallback_cpu: str) -> None:
    _print_written(new_isa_files(target, isa, like, isa_flags, fma, cpu, vlens, fallback_cpu) + regenerate())
    print(f"next: invoke test --arch {target}; then fill in the primitives (see docs/PORTING.md)")

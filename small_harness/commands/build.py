"""`invoke build` and `invoke elf-check`: build each target, or check what is built, and say what."""

from __future__ import annotations

from small_harness.build.cmake import ARTIFACT_NAMES, LIBRARY_NAME, build, build_dir_for
from small_harness.build.disasm import check_kernel_fmas
from small_harness.build.elf import check_artifacts
from small_harness.commands.common import chosen_backend, print_reports, usable_targets
from small_harness.core.paths import relative
from small_harness.targets.registry import resolve_targets


def build_targets(arch: str, toolchain: str) -> None:
    backend = chosen_backend(toolchain)
    for target in usable_targets(resolve_targets(arch, backend=backend.name), backend):
        result = build(target, backend)
        reports = check_artifacts(target, result.artifacts)
        for fma in check_kernel_fmas(target, backend, result.build_dir / LIBRARY_NAME):
            print(f"  {fma.function}: {fma.fma_count} vector FMAs ({fma.mnemonic or 'none'})")
        step = "configured and built" if result.configured else "built"
        print(f"{target.name}: {step} {relative(result.build_dir)}, ELF checks passed")
        print_reports(reports)


def elf_check(arch: str, toolchain: str) -> None:
    backend = chosen_backend(toolchain)  # the same choice as `build`, so the same build dir
    for target in usable_targets(resolve_targets(arch, backend=backend.name), backend):
        build_dir = build_dir_for(target, backend.name)
        reports = check_artifacts(target, [build_dir / name for name in ARTIFACT_NAMES])
        print(f"{target.name}: {relative(build_dir)}: ELF checks passed")
        print_reports(reports)

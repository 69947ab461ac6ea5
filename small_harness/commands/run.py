"""`invoke run` and `invoke size`: one model through the library on a target; firmware sizes."""

from __future__ import annotations

from pathlib import Path

from small_harness.commands.common import chosen_backend
from small_harness.core.errors import HarnessError
from small_harness.firmware.image import firmware_sizes, region_uses, size_table
from small_harness.models.run import run_model
from small_harness.runner.launch import target_and_variant
from small_harness.targets.registry import missing_cpu_flags, resolve_targets


def run(model: Path, arch: str, toolchain: str, input_path: Path | None, output_path: Path | None) -> None:
    """--arch is one target (the library's own choice of kernels) or one variant of it (x86_64@avx2)."""
    target, variant = target_and_variant(arch, "host")  # an unknown --arch is reported before any backend work
    missing = missing_cpu_flags(target, variant)
    if missing:
        raise HarnessError(f"{variant.label if variant else target.name} needs CPU features this machine lacks: "
                           f"{', '.join(missing)}")
    backend = chosen_backend(toolchain)
    target, variant = target_and_variant(arch, backend.name)
    run_model(model, target, variant, backend, input_path, output_path)


def size(model: str, arch: str, toolchain: str) -> None:
    backend = chosen_backend(toolchain)
    targets = [t for t in resolve_targets(arch, backend=backend.name) if t.is_bare_metal or arch != "all"]
    rows = firmware_sizes(targets, backend, model)
    print(size_table(rows))
    if not all(all(use.fits for use in region_uses(target, report)) for target, _, report in rows):
        raise HarnessError("a model does not fit its board (see the table)")

"""`invoke run` and `invoke size`: one model through the library on a target; firmware sizes."""

from __future__ import annotations

from pathlib import Path

from small_harness.commands.common import chosen_backend
from small_harness.core.errors import HarnessError
from small_harness.firmware.image import firmware_sizes, region_uses, size_table
from small_harness.models.run import run_model
from small_harness.targets.registry import resolve_targets


def run(model: Path, arch: str, toolchain: str, input_path: Path | None, output_path: Path | None) -> None:
    if len(resolve_targets(arch)) != 1:
        raise HarnessError(f"--arch names {len(resolve_targets(arch))} targets; run takes one")
    backend = chosen_backend(toolchain)
    (target,) = resolve_targets(arch, backend=backend.name)
    run_model(model, target, backend, input_path, output_path)


def size(model: str, arch: str, toolchain: str) -> None:
    backend = chosen_backend(toolchain)
    targets = [t for t in resolve_targets(arch, backend=backend.name) if t.is_bare_metal or arch != "all"]
    rows = firmware_sizes(targets, backend, model)
    print(size_table(rows))
    if not all(all(use.fits for use in region_uses(target, report)) for target, _, report in rows):
        raise HarnessError("a model does not fit its board (see the table)")

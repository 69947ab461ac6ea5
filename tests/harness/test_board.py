"""Bare-metal targets as data: the [board] memory map is read strictly, the committed linker scripts
are what the TOMLs give, and the size report's verdicts follow the map."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from small_harness.generate.linker_script import committed_linker_script_path, render_linker_script
from small_harness.core.errors import TargetFileError
from small_harness.firmware.image import FirmwareRun, SizeReport, region_uses
from small_harness.targets.toml_file import load_target
from small_harness.targets.registry import load_targets

BARE_METAL = {name: t for name, t in load_targets(release=None).items() if t.is_bare_metal}


def test_there_are_bare_metal_targets() -> None:
    assert {"cortex-m55", "cortex-m4"} <= set(BARE_METAL)


@pytest.mark.parametrize("name", sorted(BARE_METAL))
def test_committed_linker_script_matches_the_toml(name: str) -> None:
    target = BARE_METAL[name]
    path = committed_linker_script_path(target)
    assert path.is_file() and path.read_text() == render_linker_script(target), f"{path} is stale: invoke generate"


def _edited(tmp_path: Path, old: str, new: str) -> Path:
    source = Path(__file__).parents[2] / "toolchains" / "cortex-m55.toml"
    text = source.read_text()
    assert old in text
    path = tmp_path / "cortex-m55.toml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, error", [
    ('ram = { name = "ISRAM", origin = 0x21000000', 'ram = { name = "ISRAM", origin = 0x00010000', "overlaps"),
    ("stack_bytes = 0x10000", "stack_bytes = 0x400000", "stack_bytes must be positive and less than the RAM"),
    ('machine = "mps3-an547"\n', "", "both a [board] table and an [emulator] machine"),
    ('size = 0x800000 }', 'size = 0x800000, speed = 1 }', "speed unknown"),
])
def test_bad_boards_are_refused(tmp_path: Path, old: str, new: str, error: str) -> None:
    with pytest.raises(TargetFileError, match=error.replace("[", r"\[").replace("]", r"\]")):
        load_target(_edited(tmp_path, old, new), release=None)


def _report(heap: int) -> SizeReport:
    run = FirmwareRun(np.zeros(1, np.float32), arena_bytes=1000, heap_bytes=heap, stack_bytes=2000, kernels=())
    return SizeReport(code_bytes=70_000, model_bytes=300_000, static_ram_bytes=2_000, run=run)


def test_the_size_verdict_follows_the_memory_map() -> None:
    target = BARE_METAL["cortex-m55"]
    assert target.board is not None
    uses = region_uses(target, _report(heap=500_000))
    assert [use.region.name for use in uses] == ["ITCM", "QSPI flash", "ISRAM"]
    assert all(use.fits for use in uses) and uses[2].used == 2_000 + 500_000 + 2_000
    too_big = region_uses(target, _report(heap=target.board.ram.size))
    assert not too_big[2].fits and too_big[0].fits

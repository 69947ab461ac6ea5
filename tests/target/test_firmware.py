"""Bare-metal firmware (lib/runner/firmware.c): an MLPerf Tiny model embedded in flash runs one
inference under QEMU system mode and matches LiteRT, and the size report adds up: the model section
is the model file pre-packed for the target (its weights read in place), the arena (a static buffer)
is what the planner gave the runner, the heap holds only the plan, the measured stack is within the
reserved stack, and everything fits the board's memory map."""

from __future__ import annotations

import numpy as np
import pytest

from small_harness.toolchain.backends import Backend
from small_harness.firmware.image import build_firmware, measure, region_uses, run_firmware
from small_harness.models.litert import model_disagreement
from small_harness.models.mlperf_tiny import FLOAT_MODELS, MODELS_DIR
from small_harness.models.cache import import_cached
from small_harness.runner.client import Runner
from small_harness.targets.types import Target

pytestmark = pytest.mark.per_target


@pytest.mark.parametrize("name", FLOAT_MODELS)
def test_a_model_in_flash_matches_litert_and_fits(target: Target, backend: Backend, runner: Runner, name: str) -> None:
    if not target.is_bare_metal:
        pytest.skip(f"{target.name} is not bare metal: models run through the runner (test_models.py)")
    path = MODELS_DIR / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"no {path}")
    imported = import_cached(path)
    model = imported.model
    firmware = build_firmware(target, backend, name, imported.file)
    x = np.random.default_rng(3).random(model.shapes[model.input], dtype=np.float32)
    run = run_firmware(firmware, backend, x)
    why = model_disagreement(path, model, x, run.output)
    assert not why, why
    assert len(run.kernels) == len(model.nodes)
    assert all(name.endswith(f"-{target.kernel_isas[0].name}") for name in run.kernels if "-conv-" in name)

    report = measure(firmware, run)
    assert report.model_bytes >= firmware.model_bytes and report.model_bytes - firmware.model_bytes < 16
    assert run.arena_bytes == runner.load_model(imported.file).arena_bytes
    assert report.static_ram_bytes >= run.arena_bytes  # the arena is a static buffer
    # The weights are read in flash and the input and output live in the arena: the heap holds the plan.
    assert 0 < run.heap_bytes < 24 * 1024
    assert target.board is not None and 0 < run.stack_bytes < target.board.stack_bytes
    assert all(use.fits for use in region_uses(target, report))

"""Hostile inputs on every target: every input a fuzzer ever found (tests/fuzz/regressions/, kept by
`invoke fuzz`), and hand-crafted model files of the kinds that once got past the loader, must be
refused or served without a crash. The sanitizer target runs these under ASan and UBSan."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from small_harness.runner import layers as L
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import BuildResult
from small_harness.ci.fuzzing import REGRESSIONS_DIR
from small_harness.models.format import Model, Node, encode
from small_harness.runner.repro import replay
from small_harness.runner.client import Runner, SmallError
from small_harness.targets.types import Target, Variant

INT_MAX = 2**31 - 1
MAX_RUN_FLOATS = 1 << 16  # run what loads, if its input is small (fuzzed inputs are; emulation is slow)


def _files(kind: str) -> list[Path]:
    folder = REGRESSIONS_DIR / kind
    return sorted(path for path in folder.iterdir() if path.is_file()) if folder.is_dir() else []


def _one_layer(layer: L.Layer, shape: tuple[int, int, int], out: tuple[int, int, int],
               weights: int = 0, bias: int = 0) -> bytes:
    """A one-layer model file written as told, with no check: what an attacker could write."""
    node = Node(layer, [0], 1, np.zeros(weights, np.float32) if weights else None,
                np.zeros(bias, np.float32) if bias else None)
    return encode(Model("crafted", [shape, out], [node], 0, 1))


CRAFTED = {
    # SAME padding around a window far larger than the input: once planned, then read out of bounds.
    "huge-same-kernel": _one_layer(L.Conv2D(4, (65536, 65536), padding="same"), (4, 4, 4), (4, 4, 4), 16, 4),
    # A dilation whose window span wraps in int: once a 6x6 output from a 4x4 input.
    "dilation-int-max": _one_layer(L.Conv2D(4, (3, 3), dilation=(INT_MAX, INT_MAX)), (4, 4, 4), (6, 6, 4), 144, 4),
    # Tensors of 2^31 floats each from a file of a few hundred bytes: an arena of gigabytes.
    "gigabyte-arena": _one_layer(L.Activate("relu"), (32768, 32768, 2), (32768, 32768, 2)),
    # Shapes whose product wraps to a small number.
    "wrapping-shape": _one_layer(L.Activate("relu"), (65536, 65536, 2), (65536, 65536, 2)),
    # Negative and zero extents.
    "negative-shape": _one_layer(L.MaxPool((2, 2), (2, 2)), (-4, 4, 4), (-2, 2, 4)),
    # Far more weights than the file holds.
    "weights-past-the-end": _one_layer(L.Conv2D(4096, (7, 7)), (8, 8, 64), (2, 2, 4096), 16, 4096),
    # Groups that do not divide the channels, and an output the layer cannot produce.
    "bad-groups": _one_layer(L.Conv2D(6, (3, 3), groups=4), (5, 5, 6), (3, 3, 6), 3 * 3 * 6, 6),
    # A stride of INT_MAX (176 bytes): once planned, then read before its input (issue 25).
    "pool-stride-int-max": _one_layer(L.MaxPool((8, 33), (8, INT_MAX), padding="same"), (8, 7, 1), (1, 1, 1)),
    # 2^26 channels in and out of a 3x3 conv, without weights: Winograd's workspace was sized in int
    # (undefined behaviour, which the sanitizer target reports) before the missing weights were refused.
    "winograd-channels-wrap": _one_layer(L.Conv2D(2**26, (3, 3), padding="same"), (2, 2, 2**26), (2, 2, 2**26)),
}


def _load_and_run(runner: Runner, data: bytes) -> str:
    try:
        loaded = runner.load_model(data)
    except SmallError as error:
        assert error.message, "a refusal must say why"
        return "refused"
    if int(np.prod(loaded.input_shape)) <= MAX_RUN_FLOATS:
        try:
            runner.run_model(np.zeros(loaded.input_shape, np.float32))
        except SmallError as error:
            assert error.message
    return "loaded"


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_crafted_model_files_are_refused(runner: Runner, name: str) -> None:
    assert _load_and_run(runner, CRAFTED[name]) == "refused"


@pytest.mark.parametrize("path", _files("model"), ids=lambda path: path.name)
def test_fuzzer_found_model_files_do_not_crash(runner: Runner, path: Path) -> None:
    _load_and_run(runner, path.read_bytes())


@pytest.mark.per_target
@pytest.mark.parametrize("path", _files("runner"), ids=lambda path: path.name)
def test_fuzzer_found_request_streams_do_not_crash(target_variant: tuple[Target, Variant], backend: Backend,
                                                   build_result: BuildResult, path: Path) -> None:
    """A byte stream the protocol fuzzer found, fed to a fresh runner: it must end by serving it or
    refusing it (exit 0 or 2), never by a signal or a sanitizer report."""
    target, variant = target_variant
    outcome = replay(path, target, variant, backend)
    assert not outcome.crashed, outcome.summary

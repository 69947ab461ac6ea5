"""`invoke run --arch` takes a variant label as `invoke repro` does (issue 27), through the one resolution
of runner/launch.py, and `invoke run` prints the kernel tables in force and the kernel of each layer, from
the runner's info and its model-load reply: tested here with a stand-in runner, without a build."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from small_harness.commands import run as run_command
from small_harness.core.errors import HarnessError
from small_harness.models import run as run_model
from small_harness.models.format import Model, Node
from small_harness.models.kernel_report import layer_table, tables_line
from small_harness.models.tflite_writer import write
from small_harness.runner import layers as L
from small_harness.runner.client import LayerResult, RunnerInfo
from small_harness.runner.launch import target_and_variant
from small_harness.runner.protocol import ModelReply
from small_harness.targets.registry import load_targets
from test_tflite_malformed import fully_connected


TARGETS = load_targets()
# a target whose variants are forced tables under QEMU, and a native one whose tables need CPU features
EMULATED = next(t for t in TARGETS.values() if len(t.variants()) > 1 and not t.is_native and not t.is_bare_metal)
NEEDS_FLAGS = next(t for t in TARGETS.values() if t.is_native and any(isa.cpu_flags for isa in t.simd_isas))


@pytest.mark.parametrize("name", TARGETS)
def test_a_label_names_one_variant_through_the_name_and_each_alias(name: str) -> None:
    target = TARGETS[name]
    for variant in [v for v in target.variants() + target.fallback_variants() if v.suffix]:
        for word in (target.name, *target.aliases):
            found, chosen = target_and_variant(f"{word}@{variant.label.partition('@')[2]}", "host")
            assert found.name == name and chosen == variant, (word, variant.label)


def test_a_bare_target_is_the_default_run() -> None:
    for name in TARGETS:
        target, variant = target_and_variant(name, "host")
        assert (target.name, variant) == (name, None)


def test_an_unknown_variant_is_one_error_listing_the_labels() -> None:
    for target in TARGETS.values():
        labels = ", ".join(v.label for v in target.variants() + target.fallback_variants())
        with pytest.raises(HarnessError) as caught:
            target_and_variant(f"{target.name}@no-such-variant", "host")
        assert str(caught.value) == f"{target.name} has no variant {target.name}@no-such-variant; it has {labels}"


def test_more_than_one_target_is_refused() -> None:
    first, second, *_ = TARGETS
    for arch in (f"{first},{second}", "all", f"all@{TARGETS[first].variants()[0].suffix}"):
        with pytest.raises(HarnessError, match=r"--arch names \d+ targets; give one"):
            target_and_variant(arch, "host")


def test_run_refuses_an_unknown_variant_before_choosing_a_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_backend(toolchain: str) -> None:
        raise AssertionError("a backend was chosen")
    monkeypatch.setattr(run_command, "chosen_backend", no_backend)
    with pytest.raises(HarnessError, match=f"^{EMULATED.name} has no variant {EMULATED.name}@vlen3; it has "):
        run_command.run(Path("m.tflite"), f"{EMULATED.name}@vlen3", "host", None, None)


def test_run_refuses_a_native_variant_whose_cpu_features_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_command, "missing_cpu_flags", lambda target, variant: ["some-feature"])
    monkeypatch.setattr(run_command, "chosen_backend", lambda toolchain: pytest.fail("a backend was chosen"))
    label = NEEDS_FLAGS.variants()[0].label
    with pytest.raises(HarnessError, match=f"^{label} needs CPU features this machine lacks: some-feature$"):
        run_command.run(Path("m.tflite"), label, "host", None, None)


INFO = RunnerInfo(isas=("sve", "asimd", "ref"), supported=("sve", "asimd", "ref"), selected=("sve", "ref"),
                  select_error="", kernels={})


def _model() -> Model:
    """A conv, a reshape made by the library itself (no TFLite origin) and a fully connected layer."""
    nodes = [Node(L.Conv2D(16, (3, 3)), [0], 1, origin="CONV_2D #0"), Node(L.Reshape((1, 1, 144)), [1], 2),
             Node(L.FullyConnected(10), [2], 3, origin="FULLY_CONNECTED #2")]
    return Model(name="m", shapes=[(5, 5, 3), (3, 3, 16), (1, 1, 144), (1, 1, 10)], nodes=nodes, input=0, output=3)


def test_the_tables_line_says_the_chain_in_force_and_a_refusal() -> None:
    assert tables_line(INFO, "aarch64@sve-vlen512 (SMALL_KERNELS=sve)") == (
        "kernels on aarch64@sve-vlen512 (SMALL_KERNELS=sve): in force sve, ref; built sve, asimd, ref; "
        "this CPU runs sve, asimd, ref")
    refused = RunnerInfo(("avx512", "avx2", "ref"), ("avx2", "ref"), (), "avx512: this CPU cannot run it", {})
    assert tables_line(refused, "x86_64@avx512") == (
        "kernels on x86_64@avx512: in force none; built avx512, avx2, ref; this CPU runs avx2, ref; "
        "refused: avx512: this CPU cannot run it")


def test_the_layer_table_has_one_aligned_row_per_layer() -> None:
    table = layer_table(_model(), ["f32-conv-8xvl-sve", "", "f32-fc-1x2vl-sve"])
    assert table.splitlines() == [
        "layer  op               output   kernel",
        "    0  CONV_2D          3x3x16   f32-conv-8xvl-sve",
        "    1  Reshape          1x1x144  -",
        "    2  FULLY_CONNECTED  1x1x10   f32-fc-1x2vl-sve",
    ]


class _StandInRunner:
    """What run_model asks of a runner, with fixed replies."""

    def __init__(self, kernels: list[str]):
        self.kernels = kernels

    def __enter__(self) -> "_StandInRunner":
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def info(self) -> RunnerInfo:
        return INFO

    def load_model(self, model_file: bytes) -> ModelReply:
        return ModelReply((1, 1, 4), (1, 1, 3), 64, self.kernels)

    def run_model(self, x: np.ndarray) -> LayerResult:
        return LayerResult(np.array([0.1, 0.7, 0.2], np.float32), "", 1000)


def test_run_starts_the_variant_and_prints_its_kernels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    tflite_file = tmp_path / "fc.tflite"
    tflite_file.write_bytes(write(fully_connected()))
    target, variant = target_and_variant(EMULATED.variants()[0].label, "host")
    assert variant is not None and variant.forced
    started: list[Any] = []
    monkeypatch.setattr(run_model, "build", lambda target, backend: SimpleNamespace(runner=tmp_path / "runner"))

    def start_runner(target: Any, variant: Any, backend: Any, runner: Path) -> _StandInRunner:
        started.append(variant)
        return _StandInRunner(["f32-fc-1x2vl-sve"])
    monkeypatch.setattr(run_model, "start_runner", start_runner)
    backend: Any = SimpleNamespace(name="host")
    run_model.run_model(tflite_file, target, variant, backend, None, None)
    assert started == [variant]
    lines = capsys.readouterr().out.splitlines()
    kernels = next(i for i, line in enumerate(lines) if line.startswith("kernels on "))
    assert lines[kernels] == (f"kernels on {variant.label} (SMALL_KERNELS={variant.isa}, -cpu {variant.cpu}): in "
                              "force sve, ref; built sve, asimd, ref; this CPU runs sve, asimd, ref")
    assert lines[kernels + 1:kernels + 3] == ["layer  op               output  kernel",
                                              "    0  FULLY_CONNECTED  1x1x3   f32-fc-1x2vl-sve"]
    assert "top classes: 1 (0.7000), 2 (0.2000), 0 (0.1000)" in lines

"""Instruction counts, harness side: reading the plugin's report, useful MACs, the plugin's arguments
from the TOML, the baseline comparison of `invoke bench.counts --check` and the JUnit file the CI job writes.
Nothing is built or emulated here (tests/target/test_counts.py runs the plugin for real)."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree

import pytest

from small_harness.runner import layers as L
from small_harness.counts.report import VariantOutcome, write_junit
from small_harness.counts.plugin import LayerCounts, parse_output, plugin_args
from small_harness.counts.layers import CountsReport, LayerRow, format_table, layer_macs, winograd_macs
from small_harness.counts.baseline import TOLERANCE, compare, load_baseline, write_baseline
from small_harness.core.errors import HarnessError
from small_harness.models.format import Model, Node
from small_harness.targets.registry import load_targets

TARGETS = load_targets()
REPORT = """vector version is not specified, use the default value v1.0
small_counts counts=2 vlen=128 unknown_vtype=0 begin=found
count 0 insns=1000 vfma=100 vlanes=1600 sfma=2 loads=300 stores=50
count 1 insns=20 vfma=0 vlanes=0 sfma=0 loads=5 stores=1
"""


def test_the_report_is_read_count_by_count() -> None:
    counts = parse_output(REPORT, "here")
    assert counts == [LayerCounts(1000, 100, 1600, 2, 300, 50), LayerCounts(20, 0, 0, 0, 5, 1)]
    assert counts[0].fma_lanes == 1602


@pytest.mark.parametrize("text, message", [
    ("", "no report from the counting plugin"),
    (REPORT.replace("count 1 ", "count 2 "), "count 2 out of order"),
    (REPORT.replace("counts=2", "counts=3"), "reported 3 counts but wrote 2"),
    (REPORT.replace("begin=found", "begin=missing"), "never called small_count_layer"),
    (REPORT.replace("unknown_vtype=0", "unknown_vtype=4"), "4 vsetvl instructions"),
    (REPORT.replace("loads=5", "loads=five"), "unreadable line"),
])
def test_a_broken_report_is_one_error(text: str, message: str) -> None:
    with pytest.raises(HarnessError, match=message):
        parse_output(text, "riscv64@vlen128 counts")


def _conv_model(size: int, kernel: int, stride: int, padding: L.Padding, in_c: int, out_c: int, out: int) -> Model:
    node = Node(L.Conv2D(out_c, (kernel, kernel), (stride, stride), padding=padding), [0], 1)
    return Model("m", [(size, size, in_c), (out, out, out_c)], [node], 0, 1)


def test_useful_macs_leave_out_the_padding() -> None:
    # valid: every tap is inside
    model = _conv_model(10, 3, 1, "valid", 8, 16, 8)
    assert layer_macs(model.nodes[0], model) == 8 * 8 * 9 * 8 * 16
    # same, 3x3 on 32x32: 94 of the 96 taps per axis are inside (one lost at each border)
    model = _conv_model(32, 3, 1, "same", 16, 16, 32)
    assert layer_macs(model.nodes[0], model) == 94 * 94 * 16 * 16
    # same, stride 2 on 32x32: TFLite pads 1 after (none before), so only the last column loses a tap
    model = _conv_model(32, 3, 2, "same", 16, 32, 16)
    assert layer_macs(model.nodes[0], model) == 47 * 47 * 16 * 32
    fc = Model("m", [(1, 1, 64), (1, 1, 10)], [Node(L.FullyConnected(10), [0], 1)], 0, 1)
    assert layer_macs(fc.nodes[0], fc) == 640


def test_plugin_arguments_come_from_the_toml() -> None:
    target = TARGETS["riscv64"]
    variant = target.variants()[1]
    args = plugin_args(target, variant, Path("/p/small_counts.so")).split(",")
    assert args[:2] == ["/p/small_counts.so", f"vlen={variant.vlen}"]
    fmas = [arg.removeprefix("fma=") for arg in args if arg.startswith("fma=")]
    assert fmas == [*target.isa("rvv").fma_mnemonics, *target.counts.scalar_fma_mnemonics]  # type: ignore[union-attr]
    armv7 = TARGETS["armv7"]
    assert "vlen=0" in plugin_args(armv7, armv7.variants()[0], Path("p.so"))


def _report(insns: int = 1000, lanes: int = 1600, names: tuple[str, str] = ("CONV_2D #0", "ADD #1")) -> CountsReport:
    target = TARGETS["riscv64"]
    rows = [LayerRow(0, names[0], "conv", "3x3 16->16 8x8", 1500, LayerCounts(insns, 100, lanes, 0, 300, 50)),
            LayerRow(1, names[1], "add", "8x8x16->8x8x16", 0, LayerCounts(20, 0, 0, 0, 5, 1))]
    return CountsReport(target, target.variants()[0], "pretrainedResnet", rows)


def test_the_check_passes_within_tolerance_and_names_each_regression(tmp_path: Path) -> None:
    (path,) = write_baseline([_report()], tmp_path)
    baseline = load_baseline(path)
    assert compare(_report(), baseline, "b") == []
    assert compare(_report(insns=int(1000 * (1 + TOLERANCE)) - 1), baseline, "b") == []
    assert compare(_report(insns=900), baseline, "b") == []  # fewer instructions is no regression
    found = compare(_report(insns=1100, lanes=1700), baseline, "b")
    assert [(r.layer, r.what) for r in found] == [("CONV_2D #0", "insns"), ("CONV_2D #0", "lane utilisation")]
    assert found[0].line() == "riscv64@vlen128 CONV_2D #0: insns 1,100, baseline 1,000 (+10.0%, tolerance 2%)"
    assert "lane utilisation 88.2%, baseline 93.8%" in found[1].line()


def test_a_winograd_layer_is_measured_against_its_own_multiplications(tmp_path: Path) -> None:
    """A 3x3 conv through Winograd F(2x2, 3x3) multiplies 16 times per 2x2 outputs and channel pair
    (36 direct): its lane use is over those, not over the MACs, which would read 2.25x too high; and a
    baseline recorded before it (no kernel_macs) still compares."""
    target = TARGETS["riscv64"]
    node = Node(L.Conv2D(16, (3, 3), padding="same"), [0], 1)
    model = Model("m", [(8, 8, 16), (8, 8, 16)], [node], 0, 1)
    assert winograd_macs(node, model) == 16 * 16 * 16 * 16
    counts = LayerCounts(5000, 1024, 16384, 0, 300, 50)  # 1,024 FMAs of 16 lanes
    row = LayerRow(0, "CONV_2D #0", "conv", "3x3 16->16 8x8", layer_macs(node, model), counts,
                   "f32-winograd-12x32-avx512", winograd_macs(node, model))
    assert row.winograd and row.lane_utilisation == 65536 / 16384
    direct = LayerRow(0, "CONV_2D #0", "conv", "3x3 16->16 8x8", 1500, LayerCounts(5000, 100, 1600, 0, 300, 50))
    report = CountsReport(target, target.variants()[0], "pretrainedResnet", [row])
    (path,) = write_baseline([CountsReport(target, target.variants()[0], "pretrainedResnet", [direct])], tmp_path)
    data = json.loads(path.read_text())
    for layer in data["variants"]["riscv64@vlen128"]["layers"]:
        del layer["kernel_macs"]
    path.write_text(json.dumps(data))
    assert compare(report, load_baseline(path), "b") == []  # 100% now against 93.8% then
    assert "Winograd F(2x2, 3x3): CONV_2D #0" in format_table(report)


def test_a_stale_or_missing_baseline_is_one_error(tmp_path: Path) -> None:
    (path,) = write_baseline([_report()], tmp_path)
    with pytest.raises(HarnessError, match="other layers than pretrainedResnet"):
        compare(_report(names=("CONV_2D #0", "MUL #1")), load_baseline(path), "b")
    data = json.loads(path.read_text())
    data["variants"] = {}
    path.write_text(json.dumps(data))
    with pytest.raises(HarnessError, match="no baseline for riscv64@vlen128; record it with: invoke bench"):
        compare(_report(), load_baseline(path), "b")
    path.write_text("{")
    with pytest.raises(HarnessError, match="not valid JSON"):
        load_baseline(path)


def test_the_committed_baselines_cover_every_variant_of_the_counting_targets() -> None:
    from small_harness.counts.baseline import baseline_path

    for target in (t for t in TARGETS.values() if t.counts is not None):
        variants = load_baseline(baseline_path(target.name))["variants"]
        assert sorted(variants) == sorted(v.label for v in target.variants())


def test_the_junit_file_has_a_case_per_variant(tmp_path: Path) -> None:
    report = _report()
    failed = VariantOutcome(report.variant, 1.0, report, compare(_report(insns=2000), _baseline(tmp_path), "b"))
    skipped = VariantOutcome(TARGETS["riscv64"].variants()[1], skipped="qemu-riscv64 cannot load TCG plugins")
    root = ElementTree.parse(write_junit([failed, skipped], tmp_path)).getroot()
    cases = root.findall("testcase")
    assert [case.get("name") for case in cases] == ["riscv64@vlen128", "riscv64@vlen256"]
    assert "insns 2,000" in (cases[0].find("failure").get("message") or "")  # type: ignore[union-attr]
    assert cases[1].find("skipped").get("message") == "qemu-riscv64 cannot load TCG plugins"  # type: ignore[union-attr]


def _baseline(tmp_path: Path) -> dict[str, object]:
    (path,) = write_baseline([_report()], tmp_path / "baseline")
    return load_baseline(path)

"""`invoke bench.counts`: exact instruction counts per layer under QEMU, from the
counting plugin (count_plugin.py), for one inference of the MLPerf Tiny ResNet-8 float model.

ResNet-8 is the bench's emulation-sized workload by rule: of the MLPerf Tiny float models it is the
one whose layers are all convolutions with the library's own kernels (12.5 M MACs, a few seconds
under QEMU at every vector length), and it carries issue 11's goal of lane utilisation >= 90% on its
conv layers on every SIMD ISA and vector length. The whole model runs once, one thread; the library
calls a marker before each layer, so count i is layer i."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from small_harness.runner import layers as L
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import build
from small_harness.counts.plugin import (LayerCounts, build_plugin, emulator_args, parse_output, setup_reason, unable_reason)
from small_harness.core.errors import HarnessError
from small_harness.models.mlperf_tiny import MODELS_DIR
from small_harness.models.format import Model, Node
from small_harness.runner.launch import runner_argv
from small_harness.runner.client import Runner, SmallError, exchange_deadline
from small_harness.models.cache import import_cached
from small_harness.targets.types import Target, Variant
from small_harness.bench.results import RESULTS_DIR, write_results

MODEL_NAME = "pretrainedResnet"
MODEL_PATH = MODELS_DIR / f"{MODEL_NAME}.tflite"
GOAL_LANE_UTILISATION = 0.90  # issue 11: on the conv layers of ResNet-8, every SIMD ISA and vector length


@dataclass(frozen=True)
class LayerRow:
    index: int
    name: str  # the layer's origin in the model, e.g. "CONV_2D #3"
    kind: str  # conv, dwconv, fc, or the op's name
    shape: str
    macs: int
    counts: LayerCounts
    kernel: str = ""  # the kernel that served it (small_layer_kernel_name)
    # The multiplications its method does: macs, but for a Winograd layer its 16 per tile and channel
    # pair (winograd_macs), which the lanes are measured against.
    kernel_macs: int = 0

    @property
    def winograd(self) -> bool:
        return self.kernel.startswith(WINOGRAD_PREFIX)

    @property
    def multiplications(self) -> int:
        """What the lanes are measured against: kernel_macs where given, else the MACs."""
        return self.kernel_macs or self.macs

    @property
    def lane_utilisation(self) -> float | None:
        """Useful multiplications over the lanes of every FMA executed (None where no FMA ran)."""
        return self.multiplications / self.counts.fma_lanes if self.counts.fma_lanes and self.multiplications else None

    @property
    def insns_per_mac(self) -> float | None:
        return self.counts.insns / self.macs if self.macs else None


@dataclass(frozen=True)
class CountsReport:
    target: Target
    variant: Variant
    model: str
    rows: list[LayerRow]

    def conv_rows(self) -> list[LayerRow]:
        return [row for row in self.rows if row.kind == "conv"]

    def conv_utilisation(self) -> float | None:
        """Over all conv layers together: their multiplications over their FMA lanes."""
        lanes = sum(row.counts.fma_lanes for row in self.conv_rows())
        return sum(row.multiplications for row in self.conv_rows()) / lanes if lanes else None

    def goal_met(self) -> bool:
        """Every conv layer at or above the goal."""
        return all((row.lane_utilisation or 0.0) >= GOAL_LANE_UTILISATION for row in self.conv_rows())


def _taps_inside(size: int, out: int, taps: int, stride: int, dilation: int, before: int) -> int:
    """Over all output positions along one axis, the window taps that fall inside the input."""
    positions = np.arange(out)[:, None] * stride - before + np.arange(taps)[None, :] * dilation
    return int(((positions >= 0) & (positions < size)).sum())


def _pad_before(padding: L.Padding, axis: int, size: int, out: int, taps: int, stride: int, dilation: int) -> int:
    if padding == "valid":
        return 0
    if padding == "same":  # TFLite: the smaller half before
        return max((out - 1) * stride + (taps - 1) * dilation + 1 - size, 0) // 2
    return padding[2 * axis]


def layer_macs(node: Node, model: Model) -> int:
    """Useful multiply-accumulates of a layer: conv (grouped or depthwise) over the window taps
    that fall inside the input (the nest clips windows at the borders: padding costs nothing, so
    counting it would flatter the lanes), and fully connected; 0 for the other ops."""
    layer = node.layer
    in_h, in_w, in_c = model.shapes[node.inputs[0]]
    out_h, out_w, out_c = model.shapes[node.output]
    if isinstance(layer, L.Conv2D):
        per_axis = []
        for axis, (size, out) in enumerate(((in_h, out_h), (in_w, out_w))):
            taps, stride, dilation = layer.kernel[axis], layer.stride[axis], layer.dilation[axis]
            before = _pad_before(layer.padding, axis, size, out, taps, stride, dilation)
            per_axis.append(_taps_inside(size, out, taps, stride, dilation, before))
        return per_axis[0] * per_axis[1] * out_c * (in_c // layer.groups)
    if isinstance(layer, L.FullyConnected):
        return in_h * in_w * in_c * layer.out_channels
    return 0


WINOGRAD_PREFIX = "f32-winograd-"  # the names of layers computed through Winograd F(2x2, 3x3)


def winograd_macs(node: Node, model: Model) -> int:
    """The multiplications of a 3x3 conv through Winograd F(2x2, 3x3): 16 per 4x4 tile (2x2 outputs)
    and pair of input and output channels."""
    in_c = model.shapes[node.inputs[0]][2]
    out_h, out_w, out_c = model.shapes[node.output]
    return 16 * ((out_h + 1) // 2) * ((out_w + 1) // 2) * in_c * out_c


def _kind(node: Node, model: Model) -> str:
    layer = node.layer
    if isinstance(layer, L.Conv2D):
        return "dwconv" if layer.groups > 1 and layer.groups == model.shapes[node.inputs[0]][2] else "conv"
    if isinstance(layer, L.FullyConnected):
        return "fc"
    return type(layer).__name__.lower()


def _shape(node: Node, model: Model) -> str:
    h, w, c = model.shapes[node.inputs[0]]
    out_c = model.shapes[node.output][2]
    layer = node.layer
    if isinstance(layer, L.Conv2D):
        stride = f" s{layer.stride[0]}" if layer.stride != (1, 1) else ""
        return f"{layer.kernel[0]}x{layer.kernel[1]}{stride} {c}->{out_c} {h}x{w}"
    return f"{h}x{w}x{c}->{'x'.join(map(str, model.shapes[node.output]))}"


def count_variant(target: Target, variant: Variant, backend: Backend) -> CountsReport:
    """One inference of ResNet-8 on the variant under QEMU with the counting plugin."""
    if not MODEL_PATH.is_file():
        raise HarnessError(f"{MODEL_PATH}: not found (the MLPerf Tiny models belong in ../shared/models/mlperf-tiny/)")
    early = setup_reason(target, backend)
    if early is not None:
        raise HarnessError(f"{variant.label}: cannot count instructions: {early}")
    imported = import_cached(MODEL_PATH)
    model = imported.model
    result = build(target, backend)
    why = unable_reason(target, variant, backend, result.runner)
    if why is not None:
        raise HarnessError(f"{variant.label}: cannot count instructions: {why}")
    plugin = build_plugin()
    x = np.random.default_rng(0).random(model.shapes[model.input], dtype=np.float32)
    with tempfile.TemporaryDirectory(prefix="small-counts-") as folder:
        log = Path(folder) / "plugin.log"
        command = backend.interactive_command(
            target, runner_argv(target, variant, result.runner, emulator_args(target, variant, plugin, log)))
        with Runner(command, deadline_s=exchange_deadline(emulated=True)) as runner:
            try:
                kernels = runner.load_model(imported.file).kernels
                runner.run_model(x)
            except SmallError as error:
                raise HarnessError(f"{MODEL_PATH.name} on {variant.label}: {error}") from None
        counted = parse_output(log.read_text(errors="replace"), f"{variant.label} counts")
    if len(counted) != len(model.nodes):
        raise HarnessError(f"{variant.label}: {len(counted)} counts for the {len(model.nodes)} layers of {MODEL_NAME}")
    if len(kernels) != len(model.nodes):
        raise HarnessError(f"{variant.label}: {len(kernels)} kernel names for the {len(model.nodes)} layers of {MODEL_NAME}")
    rows = []
    for i, (node, counts, kernel) in enumerate(zip(model.nodes, counted, kernels)):
        macs = layer_macs(node, model)
        kernel_macs = winograd_macs(node, model) if kernel.startswith(WINOGRAD_PREFIX) else macs
        rows.append(LayerRow(i, node.origin or f"layer {i}", _kind(node, model), _shape(node, model), macs, counts,
                             kernel, kernel_macs))
    return CountsReport(target, variant, MODEL_NAME, rows)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def format_table(report: CountsReport) -> str:
    lines = [f"{report.variant.label} ({report.variant.isa}{f', VLEN {report.variant.vlen}' if report.variant.vlen else ''}"
             f"): {report.model}, one inference, instructions counted under QEMU",
             f"{'layer':14} {'kind':8} {'shape':22} {'MACs':>10} {'insns':>10} {'insn/MAC':>8} {'vec FMAs':>9} "
             f"{'lanes':>5} {'sc FMAs':>7} {'lane use':>8} {'loads':>9} {'stores':>8}"]
    for row in report.rows:
        c = row.counts
        per_mac = "-" if row.insns_per_mac is None else f"{row.insns_per_mac:.3f}"
        lanes = f"{c.vlanes / c.vfma:.1f}" if c.vfma else "-"
        lines.append(f"{row.name:14} {row.kind:8} {row.shape:22} {row.macs:>10,} {c.insns:>10,} {per_mac:>8} "
                     f"{c.vfma:>9,} {lanes:>5} {c.sfma:>7,} {_percent(row.lane_utilisation):>8} {c.loads:>9,} "
                     f"{c.stores:>8,}")
    convs = report.conv_rows()
    worst = min((row.lane_utilisation or 0.0 for row in convs), default=None)
    verdict = "met" if report.goal_met() else "NOT met"
    winograd = [row.name for row in report.rows if row.winograd]
    if winograd:
        lines.append(f"Winograd F(2x2, 3x3): {', '.join(winograd)} (lane use over its 16 multiplications per 2x2 "
                     f"outputs and channel pair, 2.25x fewer than the MACs)")
    lines.append(f"conv layers: lane utilisation {_percent(report.conv_utilisation())} overall, lowest "
                 f"{_percent(worst)}; goal >= {GOAL_LANE_UTILISATION:.0%} on every conv layer: {verdict}")
    return "\n".join(lines)


def report_data(report: CountsReport) -> dict[str, object]:
    return {
        "target": report.target.name, "variant": report.variant.label, "isa": report.variant.isa,
        "vlen": report.variant.vlen, "model": report.model, "conv_lane_utilisation": report.conv_utilisation(),
        "goal_lane_utilisation": GOAL_LANE_UTILISATION, "goal_met": report.goal_met(),
        "layers": [{"index": row.index, "name": row.name, "kind": row.kind, "shape": row.shape, "macs": row.macs,
                    "kernel": row.kernel, "kernel_macs": row.multiplications,
                    **{name: getattr(row.counts, name) for name in ("insns", "vfma", "vlanes", "sfma", "loads",
                                                                    "stores")},
                    "lane_utilisation": row.lane_utilisation, "insns_per_mac": row.insns_per_mac}
                   for row in report.rows],
    }


def write_json(report: CountsReport, directory: Path = RESULTS_DIR) -> Path:
    return write_results(f"counts-{report.variant.label}.json", report_data(report), directory)

"""The layers `invoke bench` measures: small_harness/bench/layers.toml, read here, and written here
once from the MLPerf Tiny float models (`python -m small_harness.bench.layer_list [MODELS_DIR]`, which
needs the `tflite` package) plus the four reference layers with their goals."""

from __future__ import annotations

import sys
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from small_harness.core.paths import relative
from small_harness.runner import layers as L
from small_harness.core.errors import HarnessError
from small_harness.models.mlperf_tiny import MODELS_DIR

LAYERS_FILE = Path(__file__).with_name("layers.toml")
OPS = ("conv2d", "depthwise", "fully_connected")


@dataclass(frozen=True)
class BenchLayer:
    name: str
    op: str  # one of OPS
    input: tuple[int, int, int]  # HWC
    out_channels: int
    kernel: tuple[int, int] = (1, 1)
    stride: tuple[int, int] = (1, 1)
    padding: L.Padding = "valid"
    activation: L.Activation = "none"
    source: str = ""  # where it comes from: "reference", or the models and how often
    goal_peak_fraction: float | None = None  # at least this share of the measured FMA peak
    goal_gflops: float | None = None  # at least this many GFLOP/s

    def layer(self) -> L.Conv2D | L.FullyConnected:
        if self.op == "fully_connected":
            return L.FullyConnected(self.out_channels, self.activation)
        groups = self.input[2] if self.op == "depthwise" else 1
        return L.Conv2D(self.out_channels, self.kernel, self.stride, padding=self.padding, groups=groups,
                        activation=self.activation)

    def weight_shape(self) -> tuple[int, ...]:
        if self.op == "fully_connected":
            return (self.out_channels, int(np.prod(self.input)))
        depth = 1 if self.op == "depthwise" else self.input[2]
        return (self.out_channels, *self.kernel, depth)

    def output_hw(self) -> tuple[int, int]:
        if self.op == "fully_connected":
            return (1, 1)
        sizes = []
        for axis in (0, 1):
            size, taps, stride = self.input[axis], self.kernel[axis], self.stride[axis]
            if self.padding == "same":
                sizes.append(-(-size // stride))
            else:
                before, after = (0, 0) if self.padding == "valid" else self.padding[2 * axis : 2 * axis + 2]
                sizes.append((size + before + after - taps) // stride + 1)
        return sizes[0], sizes[1]

    def macs(self) -> int:
        out_h, out_w = self.output_hw()
        per_output = int(np.prod(self.weight_shape()[1:]))
        return out_h * out_w * self.out_channels * per_output

    def shape_text(self) -> str:
        h, w, c = self.input
        if self.op == "fully_connected":
            return f"{h * w * c}->{self.out_channels}"
        kind = "dw " if self.op == "depthwise" else ""
        stride = f" s{self.stride[0]}" if self.stride != (1, 1) else ""
        return f"{kind}{self.kernel[0]}x{self.kernel[1]}{stride} {c}->{self.out_channels} {h}x{w}"


def _pair(value: Any, what: str) -> tuple[int, int]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
        raise HarnessError(f"{relative(LAYERS_FILE)}: {what} must be two integers, not {value!r}")
    return value[0], value[1]


def _from_table(table: dict[str, Any]) -> BenchLayer:
    padding = table.get("padding", "valid")
    if isinstance(padding, list):
        padding = tuple(padding)
    h, w, c = table["input"]
    layer = BenchLayer(name=table["name"], op=table["op"], input=(h, w, c), out_channels=table["out_channels"],
                       kernel=_pair(table.get("kernel", [1, 1]), "kernel"),
                       stride=_pair(table.get("stride", [1, 1]), "stride"), padding=padding,
                       activation=table.get("activation", "none"), source=table.get("source", ""),
                       goal_peak_fraction=table.get("goal_peak_fraction"), goal_gflops=table.get("goal_gflops"))
    if layer.op not in OPS:
        raise HarnessError(f"{relative(LAYERS_FILE)}: layer {layer.name}: op must be one of {', '.join(OPS)}")
    return layer


def load_bench_layers(path: Path = LAYERS_FILE) -> list[BenchLayer]:
    try:
        with path.open("rb") as stream:
            data = tomllib.load(stream)
        return [_from_table(table) for table in data["layer"]]
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise HarnessError(f"{relative(path)}: cannot read the bench layers: {error}") from None


# --------------------------------------------------------------------------------------------------
# Generation from the .tflite models (run once; the TOML file is committed)

REFERENCE_LAYERS = (
    BenchLayer("ref-conv3x3", "conv2d", (56, 56, 64), 64, (3, 3), padding=(1, 1, 1, 1), source="reference",
               goal_peak_fraction=0.8),
    BenchLayer("ref-conv1x1", "conv2d", (14, 14, 256), 256, source="reference", goal_peak_fraction=0.8),
    BenchLayer("ref-dwconv3x3", "depthwise", (28, 28, 256), 256, (3, 3), padding=(1, 1, 1, 1), source="reference",
               goal_gflops=40.0),
    BenchLayer("ref-resnet8-first", "conv2d", (32, 32, 3), 16, (3, 3), padding=(1, 1, 1, 1), source="reference",
               goal_gflops=42.0),
)
_MODEL_NAMES = {"pretrainedResnet": "resnet8", "kws_ref_model": "dscnn", "vww_96": "mobilenet", "ad01": "ad01"}
_ACTIVATIONS: dict[int, L.Activation] = {0: "none", 1: "relu", 3: "relu6"}  # TFLite ActivationFunctionType


def _model_label(path: Path) -> str:
    return next((label for prefix, label in _MODEL_NAMES.items() if path.stem.startswith(prefix)), path.stem)


def _activation(code: int, path: Path) -> L.Activation:
    if code not in _ACTIVATIONS:
        raise HarnessError(f"{path.name}: fused activation {code} is not one of the library's")
    return _ACTIVATIONS[code]


def _read_model_layers(path: Path) -> list[BenchLayer]:
    """The CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED ops of a float32 model, in graph order."""
    import tflite  # type: ignore[import-untyped]  # only the generator needs it, not loading the TOML

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    label = _model_label(path)
    found = []
    for index in range(graph.OperatorsLength()):
        op = graph.Operators(index)
        code = model.OperatorCodes(op.OpcodeIndex())
        builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
        x = graph.Tensors(op.Inputs(0))
        if x.Type() != tflite.TensorType.FLOAT32:
            return []  # a quantized model: its float twin is read instead
        shape = [int(v) for v in x.ShapeAsNumpy()]
        weights = [int(v) for v in graph.Tensors(op.Inputs(1)).ShapeAsNumpy()] if op.InputsLength() > 1 else []
        table = op.BuiltinOptions()
        if builtin == tflite.BuiltinOperator.FULLY_CONNECTED:
            options = tflite.FullyConnectedOptions()
            options.Init(table.Bytes, table.Pos)
            found.append(BenchLayer("", "fully_connected", (1, 1, int(np.prod(shape[1:]))), weights[0],
                                    activation=_activation(options.FusedActivationFunction(), path), source=label))
        elif builtin in (tflite.BuiltinOperator.CONV_2D, tflite.BuiltinOperator.DEPTHWISE_CONV_2D):
            depthwise = builtin == tflite.BuiltinOperator.DEPTHWISE_CONV_2D
            options = tflite.DepthwiseConv2DOptions() if depthwise else tflite.Conv2DOptions()
            options.Init(table.Bytes, table.Pos)
            if options.DilationHFactor() != 1 or options.DilationWFactor() != 1:
                raise HarnessError(f"{path.name}: dilated convolutions are not expected in these models")
            found.append(BenchLayer(
                "", "depthwise" if depthwise else "conv2d", (shape[1], shape[2], shape[3]),
                weights[3] if depthwise else weights[0], (weights[1], weights[2]),
                (int(options.StrideH()), int(options.StrideW())),
                "same" if options.Padding() == tflite.Padding.SAME else "valid",
                _activation(options.FusedActivationFunction(), path), label))
    return found


def layers_from_models(models_dir: Path = MODELS_DIR) -> list[BenchLayer]:
    """The distinct layers of the float models, named <model>-<op><n>, with where they occur."""
    counts: dict[BenchLayer, dict[str, int]] = {}
    for path in sorted(models_dir.glob("*.tflite")):
        for layer in _read_model_layers(path):
            where = counts.setdefault(replace(layer, source=""), {})
            where[layer.source] = where.get(layer.source, 0) + 1
    result: list[BenchLayer] = []
    numbers: dict[tuple[str, str], int] = {}
    for layer, where in counts.items():
        model = next(iter(where))
        short = {"conv2d": "conv", "depthwise": "dw", "fully_connected": "fc"}[layer.op]
        numbers[(model, short)] = numbers.get((model, short), 0) + 1
        source = ", ".join(f"{name} x{n}" for name, n in where.items())
        result.append(replace(layer, name=f"{model}-{short}{numbers[(model, short)]}", source=source))
    return result


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def render_toml(layers: list[BenchLayer], models_dir: Path) -> str:
    lines = [
        "# Layers measured by `invoke bench`: the four reference layers (with the goals the bench reports",
        "# against) and every distinct CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED layer of the MLPerf",
        "# Tiny float models (ResNet-8, DS-CNN kws, MobileNetV1 0.25 vww_96, ad01 FC autoencoder).",
        f"# Generated once by `python -m small_harness.bench.layer_list` from {models_dir.name}/*.tflite",
        "# (the shared models folder), reading each model with the `tflite` package; quantized models are",
        "# skipped (their float twins have the same shapes). source: model x occurrences. Do not edit by",
        "# hand: change small_harness/bench/layer_list.py and regenerate.",
    ]
    defaults = BenchLayer("", "conv2d", (1, 1, 1), 1)
    for layer in layers:
        lines += ["", "[[layer]]"]
        for key in (f.name for f in fields(layer)):
            value = getattr(layer, key)
            if value is None or (key not in ("name", "op", "input", "out_channels") and value == getattr(defaults, key)):
                continue
            lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    models_dir = Path(argv[0]) if argv else MODELS_DIR
    layers = list(REFERENCE_LAYERS) + layers_from_models(models_dir)
    LAYERS_FILE.write_text(render_toml(layers, models_dir))
    print(f"wrote {relative(LAYERS_FILE)}: {len(layers)} layers")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

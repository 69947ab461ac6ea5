"""The bench's layer list (small_harness/bench/layers.toml): it loads, names are unique, the four
reference layers carry their goals, and MAC counts follow from the shapes."""

from __future__ import annotations

from small_harness.bench.layer_list import REFERENCE_LAYERS, load_bench_layers


def test_bench_layers_load_with_unique_names() -> None:
    layers = load_bench_layers()
    names = [layer.name for layer in layers]
    assert len(names) == len(set(names))
    assert {"conv2d", "depthwise", "fully_connected"} == {layer.op for layer in layers}


def test_reference_layers_come_first_with_their_goals() -> None:
    layers = load_bench_layers()
    assert layers[: len(REFERENCE_LAYERS)] == list(REFERENCE_LAYERS)
    assert all(layer.goal_peak_fraction or layer.goal_gflops for layer in REFERENCE_LAYERS)


def test_macs_of_the_reference_shapes() -> None:
    by_name = {layer.name: layer for layer in load_bench_layers()}
    assert by_name["ref-conv3x3"].macs() == 56 * 56 * 64 * 64 * 9
    assert by_name["ref-conv1x1"].macs() == 14 * 14 * 256 * 256
    assert by_name["ref-dwconv3x3"].macs() == 28 * 28 * 256 * 9
    assert by_name["ref-resnet8-first"].macs() == 32 * 32 * 16 * 27
    strided = by_name["mobilenet-conv1"]  # 3x3 stride 2, SAME padding: 96x96 -> 48x48
    assert strided.output_hw() == (48, 48) and strided.macs() == 48 * 48 * 8 * 27

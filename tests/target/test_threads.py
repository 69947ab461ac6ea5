"""Threads (small_set_threads): every layer kind and a whole model give bit-identical outputs for 1,
2, 3, 4 and 16 threads (16: the most the speed goals name, more than the units of many layers here
and more than this machine's CPUs), and 64 (SMALL_MAX_THREADS) on a whole model, on every variant
(QEMU user mode runs the threads too), and bad counts are refused. The nest's units depend on the
layer alone, so this must hold exactly, not approximately. Bare-metal builds have no threads: they
run 1 and refuse more."""

from __future__ import annotations

import numpy as np
import pytest

from small_harness.runner import layers as L
from small_harness.runner.client import Runner, SmallError
from small_harness.targets.types import Target

THREAD_COUNTS = (2, 3, 4, 16)
MOST_THREADS = 64  # SMALL_MAX_THREADS

# Each large enough to be split (the nest keeps layers under 2^13 MACs, FC under 2^18, on one
# thread). The nest splits rows (with every channel block inside) when there are at least as many as
# threads, else channel blocks: "conv-1x1-small-image" is the second way at every count here.
LAYERS = {
    "conv-3x3": (L.Conv2D(24, (3, 3), padding="same", activation="relu"), (14, 13, 16), (24, 3, 3, 16)),
    "conv-3x3-s2-groups": (L.Conv2D(16, (3, 3), stride=(2, 2), groups=2), (15, 17, 8), (16, 3, 3, 4)),
    "conv-1x1-flat": (L.Conv2D(40, (1, 1)), (23, 29, 12), (40, 1, 1, 12)),
    # Walked transposed (taller than wide, narrower than a pixel tile): shares end between bands of rows.
    "conv-3x3-tall": (L.Conv2D(24, (3, 3), padding="same"), (25, 5, 16), (24, 3, 3, 16)),
    "conv-1x1-small-image": (L.Conv2D(200, (1, 1)), (2, 1, 160), (200, 1, 1, 160)),
    "depthwise-3x3": (L.Conv2D(37, (3, 3), padding="same", groups=37), (31, 33, 37), (37, 3, 3, 1)),
    # Channelwise kinds take their border pixels as columns across each thread's rows (nest.c: run_band),
    # so the columns' tiles change with the thread count: 8 channels (AVX-512's dense depthwise), a tall
    # narrow output (walked transposed, as DS-CNN's 25 x 5), stride 2 and dilation, and the average
    # pool, whose divisor is the clipped window's.
    "depthwise-3x3-8-channels": (L.Conv2D(8, (3, 3), padding="same", groups=8), (40, 37, 8), (8, 3, 3, 1)),
    "depthwise-3x3-tall": (L.Conv2D(64, (3, 3), padding="same", groups=64), (25, 5, 64), (64, 3, 3, 1)),
    "depthwise-3x3-s2-dilated": (
        L.Conv2D(20, (3, 3), stride=(2, 1), dilation=(1, 2), padding="same", groups=20),
        (35, 30, 20),
        (20, 3, 3, 1),
    ),
    "avgpool": (L.AvgPool((3, 3), (1, 1), "same"), (50, 41, 12), None),
    # A global average pool averages two halves of its rows apart (layer.c), here an odd count; the
    # same as a window over the whole input; at one pixel tile or less, the nest takes it whole.
    "global-avgpool-halves": (L.GlobalAvgPool(), (25, 5, 64), None),
    "avgpool-whole-window": (L.AvgPool((7, 6), (1, 1), "valid"), (7, 6, 30), None),
    "global-avgpool-small": (L.GlobalAvgPool(), (3, 3, 256), None),
    # A 1x1 layer of few pixel tiles is walked by rows at 2 threads and more, as one long row at 1
    # (nest.c); a channelwise layer of one pixel tile or less splits its channel blocks.
    "conv-1x1-few-tiles": (L.Conv2D(40, (1, 1)), (6, 6, 32), (40, 1, 1, 32)),
    "depthwise-3x3-tiny-image": (L.Conv2D(300, (3, 3), padding="same", groups=300), (3, 3, 300), (300, 3, 3, 1)),
    "fully-connected": (L.FullyConnected(1030), (1, 1, 1031), (1030, 1031)),
    "maxpool": (L.MaxPool((3, 3), (1, 1), "same"), (64, 64, 19), None),
    "add": (L.Add("relu6"), (90, 90, 19), None),
}


@pytest.fixture
def threaded(runner: Runner, target: Target):  # type: ignore[no-untyped-def]
    if target.is_bare_metal:
        pytest.skip(f"{target.name} is bare metal: one thread (test_bare_metal_refuses_more_than_one_thread)")
    yield runner
    runner.set_threads(1)  # the runner is shared by the session


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layers_are_bit_identical_for_every_thread_count(threaded: Runner, name: str) -> None:
    layer, shape, weight_shape = LAYERS[name]
    rng = np.random.default_rng(sorted(LAYERS).index(name))
    inputs = [rng.uniform(-1, 1, shape).astype(np.float32) for _ in range(2 if isinstance(layer, L.Add) else 1)]
    weights = rng.uniform(-1, 1, weight_shape).astype(np.float32) if weight_shape else None
    bias = rng.uniform(-1, 1, weight_shape[0]).astype(np.float32) if weight_shape else None
    threaded.set_threads(1)
    one = threaded.run(layer, inputs, weights, bias)
    for threads in THREAD_COUNTS:
        threaded.set_threads(threads)
        got = threaded.run(layer, inputs, weights, bias)
        assert got.kernel == one.kernel
        np.testing.assert_array_equal(got.output, one.output, err_msg=f"{name} with {threads} threads")


def _mlperf_model(name: str, seed: int) -> tuple[bytes, np.ndarray]:
    """The MLPerf Tiny float model `name` in the library's format, and a random input (skips without it)."""
    from small_harness.models.mlperf_tiny import MODELS_DIR
    from small_harness.models.format import encode
    from small_harness.models.tflite_import import import_tflite

    path = MODELS_DIR / f"{name}.tflite"
    if not path.is_file():
        pytest.skip(f"no {path}")
    model = import_tflite(path)
    return encode(model), np.random.default_rng(seed).random(model.shapes[model.input], dtype=np.float32)


@pytest.mark.parametrize("name", ["pretrainedResnet", "kws_ref_model_float32", "vww_96_float"])
def test_a_model_is_bit_identical_for_every_thread_count(threaded: Runner, name: str) -> None:
    """Loaded at 1 thread (the compact arena) and at 2 (each tensor centred in a slot: model.c), run at
    every count."""
    encoded, x = _mlperf_model(name, seed=1)
    threaded.set_threads(1)
    compact = threaded.load_model(encoded).arena_bytes
    one = threaded.run_model(x).output
    for threads in THREAD_COUNTS:
        threaded.set_threads(threads)
        np.testing.assert_array_equal(threaded.run_model(x).output, one, err_msg=f"{threads} threads")
    threaded.set_threads(2)
    centred = threaded.load_model(encoded).arena_bytes
    assert centred > compact, "a model loaded at 2 threads takes the centred layout"
    for threads in (1, *THREAD_COUNTS):
        threaded.set_threads(threads)
        np.testing.assert_array_equal(threaded.run_model(x).output, one, err_msg=f"loaded at 2, run at {threads}")


def test_the_most_threads_give_the_same_model_output(threaded: Runner) -> None:
    """SMALL_MAX_THREADS workers, most of them idle in every layer of DS-CNN (25 x 5 images)."""
    encoded, x = _mlperf_model("kws_ref_model_float32", seed=2)
    threaded.set_threads(1)
    threaded.load_model(encoded)
    one = threaded.run_model(x).output
    threaded.set_threads(MOST_THREADS)
    np.testing.assert_array_equal(threaded.run_model(x).output, one)
    with pytest.raises(SmallError):
        threaded.set_threads(MOST_THREADS + 1)
    np.testing.assert_array_equal(threaded.run_model(x).output, one, err_msg="a refused count changed the pool")


@pytest.mark.parametrize("threads", [0, -1, MOST_THREADS + 1])
def test_bad_thread_counts_are_refused(threaded: Runner, threads: int) -> None:
    with pytest.raises(SmallError) as refused:
        threaded.set_threads(threads & 0xFFFFFFFF)
    assert refused.value.status_name == "SMALL_ERR_PARAM"


def test_bare_metal_refuses_more_than_one_thread(runner: Runner, target: Target) -> None:
    if not target.is_bare_metal:
        pytest.skip(f"{target.name} has threads")
    runner.set_threads(1)
    with pytest.raises(SmallError) as refused:
        runner.set_threads(2)
    assert refused.value.status_name == "SMALL_ERR_PARAM" and "1 threads" in refused.value.message

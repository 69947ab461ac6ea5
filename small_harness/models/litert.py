"""LiteRT (ai-edge-litert) as the reference a model's output is checked against: the tolerance rule
the model tests use, shared with `invoke run` on bare-metal targets."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from small_harness.models.format import Model

# LiteRT runs float layers in float32 in another summation order: differences of a few float32
# rounding errors of the output scale (measured up to 2e-6). For layers whose weights the file stores
# as int8 (weight-only quantization, as in kws_ref_model_float32), LiteRT's kernels also quantize the
# activations to int8 on the fly, which the library does not: the difference is that quantization's,
# measured 2.9e-3 of the output scale; 3e-2 leaves a margin while still catching a wrong layer.
FLOAT_RTOL, HYBRID_RTOL = 1e-4, 3e-2


@functools.cache
def _interpreter(path: Path):  # type: ignore[no-untyped-def]
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path), num_threads=1)
    interpreter.allocate_tensors()
    return interpreter


def litert_run(path: Path, x: np.ndarray) -> np.ndarray:
    """LiteRT's output for input x (in the .tflite input's layout)."""
    interpreter = _interpreter(path)
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
    interpreter.invoke()
    return np.array(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))


def disagreement(got: np.ndarray, want: np.ndarray, rtol: float) -> str:
    """Why `got` does not match LiteRT's `want` (error beyond rtol of the output scale, or another
    top-1 class where LiteRT's is a clear winner), or "" when it does."""
    got, want = got.ravel().astype(np.float64), want.ravel().astype(np.float64)
    scale = np.abs(want).max()
    error = np.abs(got - want).max()
    if error > rtol * scale:
        return f"max error {error:.3g}, allowed {rtol} x {scale:.3g}"
    ranked = np.sort(want)
    if want.size > 1 and ranked[-1] - ranked[-2] > 2 * rtol * scale and got.argmax() != want.argmax():
        return f"top-1 {got.argmax()}, LiteRT {want.argmax()}"
    return ""


def model_rtol(model: "Model") -> float:
    """The tolerance for a model: wider where the file's weights are int8 (LiteRT's hybrid kernels)."""
    return HYBRID_RTOL if model.dequantized_constants else FLOAT_RTOL


def model_disagreement(path: Path, model: "Model", x: np.ndarray, got: np.ndarray) -> str:
    """Why our output for x (any layout of the model input) is not LiteRT's for the .tflite file at
    path, within the model's tolerance; "" when it is."""
    return disagreement(got, litert_run(path, x.reshape(model.input_layout)), model_rtol(model))

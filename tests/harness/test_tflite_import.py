"""The .tflite importer's refusals, on real files: an op the library lacks is named with its index
and file; a truncated file gets one line. Pure Python: no target is built."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from small_harness.models.mlperf_tiny import INT8_MODELS, MODELS_DIR
from small_harness.models.tflite_import import ModelImportError, import_tflite

pytestmark = pytest.mark.skipif(not MODELS_DIR.is_dir(), reason=f"no MLPerf Tiny models at {MODELS_DIR}")


def with_unsupported_op(tmp_path: Path) -> Path:
    """ad01 with its operator code rewritten to TANH, an op the library lacks (built from the real
    file so the rest of the model stays valid)."""
    import tflite

    data = bytearray((MODELS_DIR / "ad01_fp32.tflite").read_bytes())
    code = tflite.Model.GetRootAs(bytes(data), 0).OperatorCodes(0)
    tanh = tflite.BuiltinOperator.TANH
    # Fields 3 (builtin_code, int32) and 0 (deprecated_builtin_code, int8) of OperatorCode; a field at
    # its default value is absent from the buffer (vtable offset 0), and readers take the larger one.
    builtin_at, deprecated_at = code._tab.Offset(10), code._tab.Offset(4)
    if builtin_at:
        struct.pack_into("<i", data, code._tab.Pos + builtin_at, tanh)
    if deprecated_at:
        struct.pack_into("<b", data, code._tab.Pos + deprecated_at, tanh)
    assert builtin_at or deprecated_at
    path = tmp_path / "ad01_with_tanh.tflite"
    path.write_bytes(bytes(data))
    return path


def test_unsupported_op_is_named_with_its_index_and_file(tmp_path: Path) -> None:
    path = with_unsupported_op(tmp_path)
    with pytest.raises(ModelImportError, match=r"ad01_with_tanh.tflite: operator 0 \(TANH\) is not supported"):
        import_tflite(path)


@pytest.mark.parametrize("keep", [0.5, 0.1, 0.002])
def test_truncated_tflite_is_refused_by_the_importer(tmp_path: Path, keep: float) -> None:
    data = (MODELS_DIR / "pretrainedResnet.tflite").read_bytes()
    path = tmp_path / "truncated.tflite"
    path.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(ModelImportError, match="truncated.tflite: not a"):
        import_tflite(path)


@pytest.mark.parametrize("name", INT8_MODELS)
def test_full_integer_models_are_refused_for_their_int8_activations(name: str) -> None:
    """Not for the int32 bias met on the way, as "neither float32 nor quantized int8": the first
    activation of the graph, its input, is int8."""
    with pytest.raises(ModelImportError) as caught:
        import_tflite(MODELS_DIR / f"{name}.tflite")
    assert f"{name}.tflite: operator 0 " in str(caught.value)
    assert "tensor 0 '" in str(caught.value)
    assert "is int8 activations: full-integer (quantized) models are not supported yet" in str(caught.value)


def test_a_float_model_with_int8_weights_keeps_importing() -> None:
    """kws_ref_model_float32 has float32 activations and five int8 weight tensors with scales, folded
    to float; its int32 constant (a reshape's shape) is not read as data."""
    model = import_tflite(MODELS_DIR / "kws_ref_model_float32.tflite")
    assert model.dequantized_constants == 5 and len(model.nodes) == 13

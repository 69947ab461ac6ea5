"""Where the MLPerf Tiny models are (../shared/models/mlperf-tiny/, beside the repository, or the
folder SMALL_MODELS_DIR names: a machine that gets the checkout alone, as ci/device-bench.sh's) and
which files they are: the float models the library runs, and their int8 versions."""

from __future__ import annotations

import os
from pathlib import Path

from small_harness.core.paths import REPO_ROOT

MODELS_DIR = Path(os.environ.get("SMALL_MODELS_DIR") or REPO_ROOT.parent / "shared" / "models" / "mlperf-tiny")
FLOAT_MODELS = ("pretrainedResnet", "kws_ref_model_float32", "vww_96_float", "ad01_fp32")
INT8_MODELS = ("pretrainedResnet_quant", "kws_ref_model", "vww_96_int8", "ad01_int8")
MODEL_FILES = tuple(f"{name}.tflite" for name in FLOAT_MODELS + INT8_MODELS)

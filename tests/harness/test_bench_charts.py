"""The charts `invoke bench` writes: real PNG files from given figures (nothing is timed here)."""

from __future__ import annotations

from pathlib import Path

from small_harness.bench.charts import models_chart
from small_harness.bench.models import ModelTiming

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_models_chart_is_a_png(tmp_path: Path) -> None:
    timings = [ModelTiming(model, threads, (1e5 * scale / threads,) * 3, (1.2e5 * scale / threads,) * 3)
               for model, scale in (("pretrainedResnet", 3.0), ("ad01_fp32", 0.1)) for threads in (1, 2)]
    path = models_chart("x86_64@avx512", timings, tmp_path / "models.png")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000

"""The charts `invoke bench` writes beside its JSON (PNG, matplotlib's Agg backend, no display): per
layer, GFLOP/s against the FMA peak of the same run; per model, our latency over LiteRT's at each
thread count, and latency against threads for both; per layer (bench --threads), parallel efficiency
against threads for both."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from small_harness.bench.layers import BenchReport
    from small_harness.bench.models import ModelTiming
    from small_harness.bench.scaling import LayerScaling


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on CI machines
    import matplotlib.pyplot as plt

    return plt


def layers_chart(report: "BenchReport", path: Path) -> Path:
    plt = _pyplot()
    names = [m.layer.name for m in report.measurements]
    gflops = [m.gflops for m in report.measurements]
    litert = [m.litert_gflops or 0.0 for m in report.measurements]
    figure, axes = plt.subplots(figsize=(max(6.0, 0.28 * len(names)), 4.2))
    positions = list(range(len(names)))
    axes.bar([p - 0.2 for p in positions], gflops, width=0.4, color="#3b7dd8", label="ours")
    if any(litert):
        axes.bar([p + 0.2 for p in positions], litert, width=0.4, color="#9a9a9a", label="LiteRT (same run)")
    axes.axhline(report.peak.gflops, color="#d83b3b", linestyle="--", label=f"FMA peak {report.peak.gflops:.0f}")
    axes.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    axes.set_ylabel("GFLOP/s (1 thread)")
    axes.set_title(f"{report.variant.label}: layers against LiteRT and the FMA peak of the same run")
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def models_chart(label: str, timings: "list[ModelTiming]", path: Path) -> Path:
    plt = _pyplot()
    models = list(dict.fromkeys(t.model for t in timings))
    threads = sorted({t.threads for t in timings})
    by_key = {(t.model, t.threads): t for t in timings}
    figure, (ratios, scaling) = plt.subplots(1, 2, figsize=(11, 4.2))
    width = 0.8 / len(threads)
    for i, count in enumerate(threads):
        values = [by_key[(m, count)].ratio for m in models]
        ratios.bar([x + i * width for x in range(len(models))], values, width, label=f"{count} thread(s)")
    ratios.axhline(1.0, color="black", linewidth=0.8)
    ratios.axhline(0.8, color="#d83b3b", linestyle="--", linewidth=0.8, label="goal 0.8")
    ratios.set_xticks([x + 0.4 - width / 2 for x in range(len(models))], models, rotation=20, fontsize=8)
    ratios.set_ylabel("our latency / LiteRT's (lower is better)")
    ratios.set_title(f"{label}: whole models against LiteRT")
    ratios.legend(fontsize=8)
    for model in models:
        line = scaling.plot(threads, [by_key[(model, c)].ours_ms for c in threads], marker="o", label=f"{model} ours")
        scaling.plot(threads, [by_key[(model, c)].litert_ms for c in threads], marker="x", linestyle="--",
                     color=line[0].get_color(), label=f"{model} LiteRT")
    scaling.set_xticks(threads)
    scaling.set_xlabel("threads")
    scaling.set_ylabel("ms per inference (median)")
    scaling.set_yscale("log")
    scaling.set_title("thread scaling")
    scaling.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def scaling_chart(label: str, scalings: "list[LayerScaling]", goal: float, path: Path) -> Path:
    """Ours and LiteRT's parallel efficiency per layer: conv layers in colour, the others in grey."""
    plt = _pyplot()
    figure, (ours, litert) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for s in scalings:
        threads = [p.threads for p in s.points]
        conv = s.layer.op == "conv2d"
        style = {"linewidth": 1.2 if conv else 0.6, "alpha": 1.0 if conv else 0.4}
        if not conv:
            style["color"] = "#9a9a9a"
        line = ours.plot(threads, [s.efficiency(p) for p in s.points], marker="o", markersize=3,
                         label=s.layer.name if conv else None, **style)
        peer = [s.efficiency(p, litert=True) for p in s.points]
        if all(e is not None for e in peer):
            litert.plot(threads, peer, marker="x", markersize=3, color=line[0].get_color(),
                        **{k: v for k, v in style.items() if k != "color"})
    for axes, who in ((ours, "ours"), (litert, "LiteRT")):
        axes.axhline(goal, color="#d83b3b", linestyle="--", linewidth=0.8)
        axes.set_xticks(sorted({p.threads for s in scalings for p in s.points}))
        axes.set_xlabel("threads")
        axes.set_title(f"{label}: {who}, per layer (conv in colour)")
    ours.set_ylabel(f"parallel efficiency (goal {goal:g}, dashed)")
    ours.legend(fontsize=5, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path

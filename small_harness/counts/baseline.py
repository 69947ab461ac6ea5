"""The committed instruction-count baselines (tests/baselines/<target>.json) and `invoke bench.counts --check`:
per variant and layer, the counts of the last accepted run; a regression is a count that grew beyond
TOLERANCE, or a conv layer's lane utilisation that fell by more than UTILISATION_TOLERANCE."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from small_harness.counts.layers import CountsReport
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT

BASELINE_DIR = REPO_ROOT / "tests" / "baselines"
TOLERANCE = 0.02  # counts are exact for one compiler; 2% absorbs a compiler update's small moves
UTILISATION_TOLERANCE = 0.01  # absolute: 90.0% -> 88.9% is a regression
CHECKED = ("insns", "loads", "stores")  # per layer; more is worse


def baseline_path(target: str, directory: Path = BASELINE_DIR) -> Path:
    return directory / f"{target}.json"


def _variant_entry(report: CountsReport) -> dict[str, Any]:
    return {"model": report.model, "layers": [
        {"name": row.name, "kind": row.kind, "macs": row.macs, "kernel_macs": row.multiplications,
         "insns": row.counts.insns, "loads": row.counts.loads,
         "stores": row.counts.stores, "fma_lanes": row.counts.fma_lanes} for row in report.rows]}


def write_baseline(reports: list[CountsReport], directory: Path = BASELINE_DIR) -> list[Path]:
    """Records the reports' variants in their targets' baselines (other variants kept)."""
    written = []
    for target in dict.fromkeys(report.target.name for report in reports):
        path = baseline_path(target, directory)
        data = load_baseline(path) if path.is_file() else {"target": target, "variants": {}}
        for report in reports:
            if report.target.name == target:
                data["variants"][report.variant.label] = _variant_entry(report)
        data["variants"] = dict(sorted(data["variants"].items()))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1) + "\n")
        written.append(path)
    return written


def load_baseline(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise HarnessError(f"{path}: cannot read the baseline ({error.strerror})") from None
    except ValueError as error:
        raise HarnessError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or not isinstance(data.get("variants"), dict):
        raise HarnessError(f"{path}: not a counts baseline (no 'variants' table)")
    return data


@dataclass(frozen=True)
class Regression:
    variant: str
    layer: str
    what: str
    baseline: float
    now: float

    def line(self) -> str:
        if self.what == "lane utilisation":
            return (f"{self.variant} {self.layer}: lane utilisation {self.now:.1%}, baseline {self.baseline:.1%} "
                    f"(more than {UTILISATION_TOLERANCE:.0%} lower)")
        change = self.now / self.baseline - 1 if self.baseline else float("inf")
        return (f"{self.variant} {self.layer}: {self.what} {int(self.now):,}, baseline {int(self.baseline):,} "
                f"(+{change:.1%}, tolerance {TOLERANCE:.0%})")


def compare(report: CountsReport, baseline: dict[str, Any], source: str) -> list[Regression]:
    """The report's regressions against a loaded baseline. A variant or layer list the baseline
    does not have is a HarnessError: the baseline is stale and must be rewritten, not guessed at."""
    label = report.variant.label
    entry = baseline["variants"].get(label)
    hint = f"record it with: invoke bench.counts --arch {label} --update-baseline"
    if not isinstance(entry, dict) or not isinstance(entry.get("layers"), list):
        raise HarnessError(f"{source}: no baseline for {label}; {hint}")
    layers = entry["layers"]
    names = [layer.get("name") if isinstance(layer, dict) else None for layer in layers]
    if entry.get("model") != report.model or names != [row.name for row in report.rows]:
        raise HarnessError(f"{source}: the baseline of {label} has other layers than {report.model} now; {hint}")
    found = []
    for row, old in zip(report.rows, layers):
        for what in CHECKED:
            before, now = _number(old, what, source), getattr(row.counts, what)
            if now > before * (1 + TOLERANCE):
                found.append(Regression(label, row.name, what, before, now))
        lanes = _number(old, "fma_lanes", source)
        if row.kind == "conv" and lanes and row.counts.fma_lanes and row.lane_utilisation:
            # a baseline before Winograd has no kernel_macs: its conv layers all did their MACs
            old_macs = _number(old, "kernel_macs" if isinstance(old, dict) and "kernel_macs" in old else "macs", source)
            before_use, now_use = old_macs / lanes, row.lane_utilisation
            if now_use < before_use - UTILISATION_TOLERANCE:
                found.append(Regression(label, row.name, "lane utilisation", before_use, now_use))
    return found


def _number(entry: object, key: str, source: str) -> float:
    value = entry.get(key) if isinstance(entry, dict) else None
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise HarnessError(f"{source}: a layer of the baseline lacks a number for '{key}'")
    return float(value)

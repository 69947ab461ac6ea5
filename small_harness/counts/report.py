"""`invoke bench.counts`: count each variant's instructions (counts.py), print and
write them, and with --check compare them with the committed baselines (counts_baseline.py),
writing a JUnit file (one case per variant) for the CI table. Where the emulator cannot load the
plugin, --check skips saying why; without --check that is an error."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from small_harness.core.paths import relative
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import build
from small_harness.counts.plugin import setup_reason, unable_reason
from small_harness.counts.layers import CountsReport, count_variant, format_table, write_json
from small_harness.counts.baseline import Regression, baseline_path, compare, load_baseline, write_baseline
from small_harness.core.errors import HarnessError
from small_harness.core.junit import JunitCase
from small_harness.core.junit import write_junit as write_junit_file
from small_harness.targets.types import Target, Variant
from small_harness.targets.registry import select_variants


@dataclass
class VariantOutcome:
    variant: Variant
    seconds: float = 0.0
    report: CountsReport | None = None
    regressions: list[Regression] = field(default_factory=list)
    skipped: str = ""  # why it could not be counted here


def count_choices(targets: list[Target], spec: str) -> list[tuple[Target, list[Variant]]]:
    """Each target with the variants to count; a target without [counts] is refused by name."""
    chosen = []
    for target in targets:
        if target.counts is None:
            raise HarnessError(f"{target.name} runs under QEMU and its TOML has no [counts] table: no instruction "
                               "counts are declared for it (docs/COUNTS.md)")
        chosen.append((target, select_variants(target, spec)))
    return chosen


def run_counts(choices: list[tuple[Target, list[Variant]]], backend: Backend, check: bool,
               update_baseline: bool) -> list[VariantOutcome]:
    """Counts every chosen variant, printing each table as it comes; with `check`, compares with the
    baselines (a target whose emulator cannot load the plugin is skipped, saying why)."""
    outcomes: list[VariantOutcome] = []
    for target, variants in choices:
        if check or update_baseline:
            why = setup_reason(target, backend) or unable_reason(target, variants[0], backend,
                                                                 build(target, backend).runner)
            if why is not None:
                if update_baseline:
                    raise HarnessError(f"{target.name}: cannot count instructions: {why}")
                print(f"SKIPPED: {target.name}: instruction counts cannot run here: {why}", flush=True)
                outcomes += [VariantOutcome(variant, skipped=why) for variant in variants]
                continue
        baseline = None
        path = baseline_path(target.name)
        if check:
            if not path.is_file():
                raise HarnessError(f"{relative(path)}: no baseline for {target.name}; record one with: invoke bench "
                                   f"--arch {target.name} --toolchain host --update-baseline")
            baseline = load_baseline(path)
        reports = []
        for variant in variants:
            started = time.monotonic()
            report = count_variant(target, variant, backend)
            reports.append(report)
            print(format_table(report))
            print(f"wrote {relative(write_json(report))}", flush=True)
            outcome = VariantOutcome(variant, time.monotonic() - started, report)
            if baseline is not None:
                outcome.regressions = compare(report, baseline, relative(path))
            outcomes.append(outcome)
        if update_baseline:
            for written in write_baseline(reports):
                print(f"baseline: wrote {relative(written)} ({len(reports)} variants; commit it)")
    return outcomes


def write_junit(outcomes: list[VariantOutcome], directory: Path) -> Path:
    """One case per variant: failed with its regressions, or skipped with the reason."""
    cases = [JunitCase(o.variant.label, o.seconds, skipped=o.skipped,
                       failure=o.regressions[0].line() if o.regressions else "",
                       details="\n".join(r.line() for r in o.regressions)) for o in outcomes]
    return write_junit_file(directory / "counts.xml", "counts", cases)

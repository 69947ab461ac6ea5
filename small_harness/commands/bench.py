"""`invoke bench.*`: native speed (layers against the FMA peak and LiteRT, whole models, thread scaling,
another revision side by side) and, under emulation, instruction counts. Each measures, prints its
table, writes its JSON under build/bench/ and, where there is one, its chart beside it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from small_harness.bench import against as against_bench
from small_harness.bench import layers as layer_bench
from small_harness.bench import models as model_bench
from small_harness.bench import scaling as scaling_bench
from small_harness.bench.charts import layers_chart, models_chart, scaling_chart
from small_harness.bench.layer_list import BenchLayer, load_bench_layers
from small_harness.bench.peer_isa import RESULTS_SUBDIR, check_peer_isa, hide_avx512_from_litert
from small_harness.bench.results import RESULTS_DIR
from small_harness.commands.common import chosen_backend, usable_targets
from small_harness.core.errors import HarnessError
from small_harness.core.paths import relative
from small_harness.counts.report import count_choices, run_counts, write_junit
from small_harness.targets.registry import resolve_targets
from small_harness.targets.types import Target, Variant
from small_harness.toolchain.backends import Backend


def _choices(arch: str, variant: str, backend: Backend) -> list[tuple[Target, Variant]]:
    """Each native target with each of its variants that bench times (the SIMD tables this CPU runs)."""
    choices = []
    for target in resolve_targets(arch, backend=backend.name):
        if not target.is_native:
            raise HarnessError(f"{target.name} runs under emulation, where wall time means nothing: "
                               f"invoke bench.counts --arch {target.name}")
        variants = layer_bench.bench_variants(target, variant)
        if not variants:
            raise HarnessError(f"{target.name}: no SIMD kernel table of {variant} runs on this CPU")
        choices += [(target, chosen) for chosen in variants]
    return choices


def _results_dir(peer_isa: str) -> Path:
    """Where results go: build/bench/, or its own folder when LiteRT runs without AVX-512."""
    check_peer_isa(peer_isa)
    if peer_isa == "native":
        return RESULTS_DIR
    print(hide_avx512_from_litert(), flush=True)
    return RESULTS_DIR / RESULTS_SUBDIR


def _report(table: str, written: Path, chart: Callable[[Path], Path] | None = None) -> None:
    print(table)
    drawn = f" and {relative(chart(written.with_suffix('.png')))}" if chart else ""
    print(f"wrote {relative(written)}{drawn}", flush=True)


def _layers(only: str) -> list[BenchLayer]:
    words = [word.strip() for word in only.split(",") if word.strip()]
    layers = [layer for layer in load_bench_layers() if not words or any(w in layer.name for w in words)]
    if not layers:
        raise HarnessError(f"no bench layer name contains any of: {only}")
    return layers


def layers(arch: str, variant: str, toolchain: str, only: str, peer_isa: str) -> None:
    results = _results_dir(peer_isa)
    backend = chosen_backend(toolchain)
    chosen_layers = _layers(only)
    for target, chosen in _choices(arch, variant, backend):
        report = layer_bench.run_bench(target, chosen, backend, chosen_layers)
        _report(layer_bench.format_table(report), layer_bench.write_json(report, results),
                lambda png: layers_chart(report, png))


def models(arch: str, variant: str, toolchain: str, threads: str, peer_isa: str) -> None:
    results = _results_dir(peer_isa)
    backend = chosen_backend(toolchain)
    counts = model_bench.thread_counts(threads)
    for target, chosen in _choices(arch, variant, backend):
        timings = model_bench.run_model_bench(target, chosen, backend, counts)
        _report(model_bench.format_table(chosen, timings), model_bench.write_json(chosen, timings, results),
                lambda png: models_chart(chosen.label, timings, png))


def against(revision: str, arch: str, variant: str, toolchain: str, threads: str) -> None:
    backend = chosen_backend(toolchain)
    commit = against_bench.resolve_revision(revision)
    counts = model_bench.thread_counts(threads)
    for target, chosen in _choices(arch, variant, backend):
        comparisons = against_bench.run_against(target, chosen, backend, commit, counts)
        _report(against_bench.format_table(chosen, commit, comparisons),
                against_bench.write_json(chosen, commit, comparisons))


def scaling(arch: str, variant: str, toolchain: str, only: str, threads: str, peer_isa: str) -> None:
    results = _results_dir(peer_isa)
    backend = chosen_backend(toolchain)
    chosen_layers = _layers(only)
    counts = model_bench.thread_counts(threads)
    for target, chosen in _choices(arch, variant, backend):
        scalings = scaling_bench.run_scaling(target, chosen, backend, chosen_layers, counts)
        _report(scaling_bench.format_table(chosen, scalings), scaling_bench.write_json(chosen, scalings, results),
                lambda png: scaling_chart(chosen.label, scalings, scaling_bench.EFFICIENCY_GOAL, png))


def counts(arch: str, variant: str, toolchain: str, check: bool, update_baseline: bool, junit_dir: Path | None) -> None:
    backend = chosen_backend(toolchain)
    targets = usable_targets(resolve_targets(arch, backend=backend.name), backend)
    if arch == "all":  # every target that declares counts
        targets = [target for target in targets if target.counts is not None]
    native = [target.name for target in targets if target.is_native]
    if native:
        raise HarnessError(f"{', '.join(native)} runs natively: instruction counts are for emulated targets "
                           "(invoke bench.layers times native ones)")
    outcomes = run_counts(count_choices(targets, variant), backend, check, update_baseline)
    if junit_dir:
        print(f"wrote {relative(write_junit(outcomes, junit_dir))}")
    regressions = [r for outcome in outcomes for r in outcome.regressions]
    for regression in regressions:
        print(f"regression: {regression.line()}", file=sys.stderr)
    if regressions:
        raise HarnessError(f"{len(regressions)} count regressions against tests/baselines/ (a deliberate change: "
                           "rerun with --update-baseline and commit the file)")
    if check:
        checked = [o for o in outcomes if not o.skipped]
        print(f"counts: {len(checked)} variants checked against tests/baselines/, no regression"
              + (f"; {len(outcomes) - len(checked)} skipped" if len(checked) < len(outcomes) else ""))

"""Developer commands (`invoke --list`). A thin layer over the small_harness package: parse the
options, call the package, print the outcome. Failures print one `error: ...` line and exit 1."""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path
from collections.abc import Iterator
from contextlib import contextmanager

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from small_harness.core.paths import relative
from small_harness.toolchain.backends import Backend, select_backend
from small_harness.bench.layers import RESULTS_DIR, bench_variants, run_bench, write_json
from small_harness.bench.layers import format_table as format_bench_table
from small_harness.bench.against import format_table as format_against_table
from small_harness.bench.against import resolve_revision, run_against
from small_harness.bench.against import write_json as write_against_json
from small_harness.bench.charts import layers_chart, models_chart, scaling_chart
from small_harness.counts.report import count_choices, run_counts
from small_harness.counts.report import write_junit as write_counts_junit
from small_harness.bench.layer_list import load_bench_layers
from small_harness.bench.models import format_table as format_model_table
from small_harness.bench.models import run_model_bench, thread_counts
from small_harness.bench.models import write_json as write_model_json
from small_harness.bench.scaling import EFFICIENCY_GOAL, run_scaling
from small_harness.bench.scaling import format_table as format_scaling_table
from small_harness.bench.scaling import write_json as write_scaling_json
from small_harness.ci.jobs import CI_DIR, CLEAN_ROOM_ENV, ci_jobs, failed_cases, reproduce_hint, run_jobs, select_jobs
from small_harness.ci.jobs import format_table as format_ci_table
from small_harness.ci.clean_room import run_clean_room
from small_harness.ci.clean_room import write_junit as write_clean_room_junit
from small_harness.build.cmake import ARTIFACT_NAMES, LIBRARY_NAME, BuildResult, build_dir_for
from small_harness.ci.device_pack import PACK_DIR
from small_harness.ci.device_pack import pack as pack_device
from small_harness.bench.peer_isa import RESULTS_SUBDIR, check_peer_isa, hide_avx512_from_litert
from small_harness.build.disasm import check_kernel_fmas
from small_harness.build.cmake import build as build_target
from small_harness.toolchain.docker.bootstrap import bootstrap_base_image
from small_harness.toolchain.docker.engine import DockerUnavailable, connect, connect_working
from small_harness.toolchain.docker.images import load_images, save_images
from small_harness.generate.cmake_toolchain import write_committed_toolchains
from small_harness.firmware.image import firmware_sizes, region_uses, size_table
from small_harness.build.elf import ElfReport, check_artifacts
from small_harness.core.errors import HarnessError
from small_harness.toolchain.host import check_host_toolchain, describe_toolchain, install_host_toolchain
from small_harness.build.port_size import format_table, port_sizes, template_sizes
from small_harness.runner.repro import debug as debug_case
from small_harness.runner.repro import replay, target_and_variant
from small_harness.models.run import run_model
from small_harness.runner.client import describe_exit
from small_harness.targets.registry import NATIVE, load_targets, resolve_targets
from small_harness.targets.types import Target, Variant
from small_harness.ci.testing import run_harness_tests, run_tests
from small_harness.build.conformance import collect as collect_conformance
from small_harness.build.conformance import format_table as format_conformance
from small_harness.generate.files import regenerate
from small_harness.build.cmake import FUZZER_NAMES
from small_harness.ci.fuzzing import format_table as format_fuzz_table
from small_harness.ci.fuzzing import fuzz_targets, run_fuzzers
from small_harness.ci.fuzzing import write_junit as write_fuzz_junit
from small_harness.targets.new_arch import new_arch as new_arch_files
from small_harness.targets.new_arch import new_isa as new_isa_files
from small_harness.generate.workflow import WORKFLOW_FILE, write_workflow

ARCH_HELP = ("target name or alias, comma-separated list, 'all', or 'native' (the default: the first target "
             "that runs on this machine without an emulator)")
TOOLCHAIN_HELP = ("where compilers and QEMU come from: auto (docker when an engine answers, else host), "
                  "docker (a toolchain image per target), host (installed on this machine)")
AUTO = "auto"


@contextmanager
def reported_errors() -> Iterator[None]:
    """A HarnessError becomes one `error: ...` line and exit status 1, without a traceback."""
    try:
        yield
    except HarnessError as error:
        if error.details:
            print(error.details, file=sys.stderr)
        raise Exit(f"error: {error.message}", code=1) from None


def _chosen_backend(toolchain: str) -> Backend:
    """Selects the backend and says which, and why, as the first line of output."""
    backend, why = select_backend(toolchain)
    print(f"toolchain: {backend.name} ({why})", flush=True)
    return backend


def _print_reports(reports: list[ElfReport]) -> None:
    """One line per artifact; an archive's members are summarised on its line."""
    by_artifact: dict[str, list[ElfReport]] = {}
    for report in reports:
        by_artifact.setdefault(report.name.split("(")[0], []).append(report)
    for artifact, artifact_reports in by_artifact.items():
        summaries = sorted({report.summary() for report in artifact_reports})
        members = f" ({len(artifact_reports)} objects)" if "(" in artifact_reports[0].name else ""
        print(f"  {artifact}{members}: {'; '.join(summaries)}")


@task(help={"arch": ARCH_HELP, "toolchain": TOOLCHAIN_HELP})
def build(c: Context, arch: str = NATIVE, toolchain: str = AUTO) -> None:
    """Build the library, runner and self-test for each target, then check the ELF files."""
    with reported_errors():
        backend = _chosen_backend(toolchain)
        for target in resolve_targets(arch, backend=backend.name):
            result: BuildResult = build_target(target, backend)
            reports = check_artifacts(target, result.artifacts)
            for fma in check_kernel_fmas(target, backend, result.build_dir / LIBRARY_NAME):
                print(f"  {fma.function}: {fma.fma_count} vector FMAs ({fma.mnemonic or 'none'})")
            step = "configured and built" if result.configured else "built"
            print(f"{target.name}: {step} {relative(result.build_dir)}, ELF checks passed")
            _print_reports(reports)


@task(name="elf-check", help={"arch": ARCH_HELP, "toolchain": TOOLCHAIN_HELP})
def elf_check(c: Context, arch: str = NATIVE, toolchain: str = AUTO) -> None:
    """Check the already built artifacts of each target (machine, class, float ABI, RISC-V arch)."""
    with reported_errors():
        backend = _chosen_backend(toolchain)  # the same choice as `build`, so the same build dir
        for target in resolve_targets(arch, backend=backend.name):
            build_dir = build_dir_for(target, backend.name)
            reports = check_artifacts(target, [build_dir / name for name in ARTIFACT_NAMES])
            print(f"{target.name}: {relative(build_dir)}: ELF checks passed")
            _print_reports(reports)


@task(help={"arch": ARCH_HELP + "; 'none' for the harness's own programs only"})
def install(c: Context, arch: str = NATIVE) -> None:
    """apt-get install the programs the harness runs (small_harness/core/tools.toml) and the cross
    compilers, sysroots and QEMU the targets need (needs root)."""
    with reported_errors():
        targets = [] if arch == "none" else resolve_targets(arch)
        installed = install_host_toolchain(targets)
        print(f"installed: {' '.join(installed)}" if installed else "nothing to install: all packages present")
        for target in targets:
            check_host_toolchain(target)


@task(help={"arch": ARCH_HELP})
def check(c: Context, arch: str = NATIVE) -> None:
    """Check that each target's compiler, sysroot and QEMU are installed; show their versions."""
    with reported_errors():
        for target in resolve_targets(arch):
            check_host_toolchain(target)
            print(describe_toolchain(target))


@task
def bootstrap(c: Context) -> None:
    """Make the Docker base image offline: debootstrap Debian trixie from this machine's apt mirror
    and docker import it as small-base:trixie (needs root). For machines without a registry."""
    with reported_errors():
        bootstrap_base_image(connect())


@task(name="cmake")
def regenerate_cmake(c: Context) -> None:
    """Regenerate toolchains/<name>.cmake from the toolchains/<name>.toml files."""
    with reported_errors():
        changed = write_committed_toolchains(list(load_targets(release=None).values()))
        for path in changed:
            print(f"wrote {relative(path)}")
        if not changed:
            print("toolchains/*.cmake are up to date")


@task(
    help={
        "arch": ARCH_HELP,
        "toolchain": TOOLCHAIN_HELP,
        "variant": "variants: all (default) or a comma list, e.g. vlen256 (RISC-V), avx2 (x86-64), sve-vlen512",
        "harness": "run the harness's own tests (tests/harness/) instead of a target's; builds nothing",
        "junit-dir": "write JUnit XML here: pytest.xml, and selftest-<variant>.xml from ctest",
        "pytest-args": "extra pytest arguments, e.g. '-k conv -x'",
    }
)
def test(c: Context, arch: str = NATIVE, toolchain: str = AUTO, variant: str = "all", harness: bool = False,
         junit_dir: str = "", pytest_args: str = "") -> None:
    """Build each target, check its ELF files, run its C self-test and its test suite (tests/target/);
    or, with --harness, the harness's own tests."""
    junit = Path(junit_dir).resolve() if junit_dir else None
    with reported_errors():
        if harness:
            passed = run_harness_tests(toolchain, shlex.split(pytest_args), junit)
        else:
            targets = resolve_targets(arch)  # an unknown --arch is reported before any backend work
            backend = _chosen_backend(toolchain)
            targets = resolve_targets(arch, backend=backend.name)
            passed = run_tests(targets, backend, variant, shlex.split(pytest_args), junit)
    if not passed:
        raise Exit("error: tests failed (see above)", code=1)


@task(
    help={
        "model": "a float .tflite file",
        "arch": "one target (name or alias), default native",
        "toolchain": TOOLCHAIN_HELP,
        "input": "input .npy (default: a fixed-seed random input)",
        "output": "write the output here as .npy",
    }
)
def run(c: Context, model: str, arch: str = NATIVE, toolchain: str = AUTO, input: str = "", output: str = "") -> None:
    """Import a .tflite model, build for the target and run one inference with the library."""
    with reported_errors():
        targets = resolve_targets(arch)
        if len(targets) != 1:
            raise HarnessError(f"--arch names {len(targets)} targets; run takes one")
        backend = _chosen_backend(toolchain)
        (target,) = resolve_targets(arch, backend=backend.name)
        run_model(Path(model), target, backend, Path(input) if input else None, Path(output) if output else None)


@task(help={"model": "a float .tflite file, or 'all' (default) for the MLPerf Tiny float models",
            "arch": "bare-metal target(s): a name, a comma list, or 'all' (default: every bare-metal target)",
            "toolchain": TOOLCHAIN_HELP})
def size(c: Context, model: str = "all", arch: str = "all", toolchain: str = AUTO) -> None:
    """Build each model into a bare-metal firmware image, run it, and report its flash and RAM (ELF
    sections, arena, heap, peak stack) against the board's memory map."""
    with reported_errors():
        backend = _chosen_backend(toolchain)
        targets = [t for t in resolve_targets(arch, backend=backend.name) if t.is_bare_metal or arch != "all"]
        rows = firmware_sizes(targets, backend, model)
        print(size_table(rows))
        if not all(fits for fits in (all(u.fits for u in region_uses(t, r)) for t, _, r in rows)):
            raise HarnessError("a model does not fit its board (see the table)")


REPRO_ARCH_HELP = "one target, or one variant of it (riscv64@vlen256), as the failure report names it"


@task(help={"file": "a case file the harness saved (build/crashes/*.case)", "arch": REPRO_ARCH_HELP,
            "toolchain": TOOLCHAIN_HELP})
def repro(c: Context, file: str, arch: str = NATIVE, toolchain: str = AUTO) -> None:
    """Replay a saved case (the requests that crashed or hung a runner) on a fresh runner, alone.
    Exits 1 when the runner crashes or hangs again, 0 when it serves the case cleanly."""
    with reported_errors():
        target_and_variant(arch, "host")  # an unknown --arch is reported before any backend work
        backend = _chosen_backend(toolchain)
        target, variant = target_and_variant(arch, backend.name)
        outcome = replay(Path(file), target, variant, backend)
    print(outcome.summary)
    if outcome.crashed:
        raise Exit(f"error: reproduced: {outcome.summary}", code=1)


@task(help={"file": "a case file the harness saved (build/crashes/*.case)", "arch": REPRO_ARCH_HELP,
            "toolchain": "host (default): QEMU runs here, where gdb can reach its port",
            "port": "the gdbstub's TCP port (default: a free one)"})
def debug(c: Context, file: str, arch: str = NATIVE, toolchain: str = "host", port: int = 0) -> None:
    """Run a saved case under QEMU's gdbstub and print the gdb-multiarch command that attaches to it
    (for a native target: the gdb command that runs it)."""
    with reported_errors():
        target_and_variant(arch, "host")
        backend = _chosen_backend(toolchain)
        target, variant = target_and_variant(arch, backend.name)
        code = debug_case(Path(file), target, variant, backend, port)
    if code != 0:
        print(f"the runner ended with {describe_exit(code)}")


@task(help={"seconds": "how long each fuzzer runs (all run at once)", "arch": "the fuzzing target(s): "
            "default every target whose TOML says fuzzing = true", "toolchain": TOOLCHAIN_HELP,
            "junit-dir": "write fuzz.xml here (one case per fuzzer)"})
def fuzz(c: Context, seconds: int = 60, arch: str = "all", toolchain: str = AUTO, junit_dir: str = "") -> None:
    """Run the libFuzzer targets (model loader plus one inference; pre-packed loader; layer descriptors;
    runner protocol) with ASan and UBSan. Corpora grow in build/fuzz/; anything found is saved in tests/fuzz/regressions/, which the
    test suite replays on every target. Exits 1 on a finding."""
    with reported_errors():
        fuzz_targets(resolve_targets(arch))
        backend = _chosen_backend(toolchain)
        results = []
        for target in fuzz_targets(resolve_targets(arch, backend=backend.name)):
            print(f"== {target.name}: {len(FUZZER_NAMES)} fuzzers for {seconds} s each", flush=True)
            results += run_fuzzers(target, backend, seconds)
        print(format_fuzz_table(results))
        if junit_dir:
            write_fuzz_junit(results, Path(junit_dir).resolve())
    if not all(result.ok for result in results):
        raise Exit("error: the fuzzers found inputs that fail (kept in tests/fuzz/regressions/; commit them "
                   "with the fix)", code=1)


@task(name="port-size")
def port_size(c: Context) -> None:
    """Lines of C per ISA port under arch/ (blank lines and comments excluded) against the goal of
    the template it instantiates; the templates apart."""
    sizes = port_sizes()
    print(format_table(sizes, template_sizes()))
    if not all(size.within_goal for size in sizes):
        raise Exit("error: a port is over its goal", code=1)


@task(help={"arch": "native target(s): native (default), a name, or a comma list",
            "variant": "which kernel tables: all (default: every SIMD table this CPU runs) or a comma list, e.g. avx2",
            "toolchain": "host (default) or docker: where the benchmark is built and run",
            "only": "measure only layers whose name contains one of these comma-separated words",
            "models": "time the MLPerf Tiny float models beside LiteRT instead of the layers",
            "threads": "thread counts, comma-separated: with --models, the models' (default: 1 and every CPU this "
                       "process may use); without, each layer at each count beside LiteRT, and its parallel "
                       "efficiency (build/bench/scaling-<variant>.json)",
            "check": "emulated targets: compare the counts with tests/baselines/<target>.json; exit 1 on a regression",
            "update_baseline": "emulated targets: write the counts into tests/baselines/<target>.json",
            "junit_dir": "with --check: write counts.xml (one case per variant) here",
            "against": "with --models: against the library of this commit (any git revision) instead of LiteRT, "
                       "in alternating rounds: to measure a change",
            "peer_isa": "LiteRT's kernels: native (default), or avx2: AVX-512, AMX and AVX-VNNI hidden from it (CPUID "
                        "faulting), as on a CPU with AVX2 and nothing newer; pair with --variant avx2 (results in "
                        "build/bench/litert-avx2/)"})
def bench(c: Context, arch: str = NATIVE, variant: str = "all", toolchain: str = "host", only: str = "",
          models: bool = False, threads: str = "", check: bool = False, update_baseline: bool = False,
          junit_dir: str = "", against: str = "", peer_isa: str = "native") -> None:
    """Time the bench layers (small_harness/bench/layers.toml) natively against the measured FMA peak,
    per kernel table; print a table and write build/bench/<variant>.json. With --models: the MLPerf
    Tiny float models beside LiteRT, at 1 and N threads (build/bench/models-<variant>.json). With
    --threads LIST and no --models: each layer at each count beside LiteRT, with its parallel efficiency
    (build/bench/scaling-<variant>.json). For an
    emulated target: exact instruction counts per layer of ResNet-8 under QEMU (build/bench/counts-*.json),
    checked against tests/baselines/ with --check. With --models --against REV: this checkout's library
    against REV's, side by side (build/bench/against-<commit>-<variant>.json). --peer-isa avx2: LiteRT
    as on a CPU with AVX2 and nothing newer."""
    with reported_errors():
        if against and not models:
            raise HarnessError("--against compares whole models: add --models")
        check_peer_isa(peer_isa)
        backend = _chosen_backend(toolchain)
        targets = resolve_targets(arch, backend=backend.name)
        emulated = [target for target in targets if not target.is_native]
        results = RESULTS_DIR
        if peer_isa != "native":
            if against or emulated:
                raise HarnessError("--peer-isa chooses LiteRT's kernels: not with --against or instruction counts")
            print(hide_avx512_from_litert(), flush=True)
            results = RESULTS_DIR / RESULTS_SUBDIR
        if (check or update_baseline or junit_dir) and (models or len(emulated) != len(targets)):
            raise HarnessError("--check, --update-baseline and --junit-dir are for instruction counts: give --arch "
                               "emulated targets only, without --models")
        if emulated and not models:
            outcomes = run_counts(count_choices(emulated, variant), backend, check, update_baseline)
            if junit_dir:
                print(f"wrote {relative(write_counts_junit(outcomes, Path(junit_dir).resolve()))}")
            regressions = [r for outcome in outcomes for r in outcome.regressions]
            for regression in regressions:
                print(f"regression: {regression.line()}", file=sys.stderr)
            if regressions:
                raise Exit(f"error: {len(regressions)} count regressions against tests/baselines/ (a deliberate "
                           "change: rerun with --update-baseline and commit the file)", code=1)
            if check:
                checked = [o for o in outcomes if not o.skipped]
                print(f"counts: {len(checked)} variants checked against tests/baselines/, no regression"
                      + (f"; {len(outcomes) - len(checked)} skipped" if len(checked) < len(outcomes) else ""))
            return
        if models and against:
            commit = resolve_revision(against)
            counts = thread_counts(threads)
            for target, chosen in _bench_choices(arch, variant, backend):
                comparisons = run_against(target, chosen, backend, commit, counts)
                print(format_against_table(chosen, commit, comparisons))
                print(f"wrote {relative(write_against_json(chosen, commit, comparisons))}", flush=True)
            return
        if models:
            counts = thread_counts(threads)
            for target, chosen in _bench_choices(arch, variant, backend):
                timings = run_model_bench(target, chosen, backend, counts)
                print(format_model_table(chosen, timings))
                written = write_model_json(chosen, timings, results)
                chart = models_chart(chosen.label, timings, written.with_suffix(".png"))
                print(f"wrote {relative(written)} and {relative(chart)}", flush=True)
            return
        words = [word.strip() for word in only.split(",") if word.strip()]
        layers = [layer for layer in load_bench_layers() if not words or any(w in layer.name for w in words)]
        if not layers:
            raise HarnessError(f"no bench layer name contains any of: {only}")
        if threads:
            counts = thread_counts(threads)
            for target, chosen in _bench_choices(arch, variant, backend):
                scalings = run_scaling(target, chosen, backend, layers, counts)
                print(format_scaling_table(chosen, scalings))
                written = write_scaling_json(chosen, scalings, results)
                chart = scaling_chart(chosen.label, scalings, EFFICIENCY_GOAL, written.with_suffix(".png"))
                print(f"wrote {relative(written)} and {relative(chart)}", flush=True)
            return
        for target, chosen in _bench_choices(arch, variant, backend):
            report = run_bench(target, chosen, backend, layers)
            print(format_bench_table(report))
            written = write_json(report, results)
            chart = layers_chart(report, written.with_suffix(".png"))
            print(f"wrote {relative(written)} and {relative(chart)}", flush=True)


@task(name="device-pack", help={"python": "the Python version of the machine that will run ci/device-bench.sh "
                                           "(default 3.12)"})
def device_pack(c: Context, python: str = "3.12") -> None:
    """Write .device/ (ignored by git) for ci/device-bench.sh on a machine with no network: wheels of the
    harness's packages it lacks, for its Python, and the MLPerf Tiny float models. Carry .device along."""
    with reported_errors():
        files = pack_device(python)
        size = sum(path.stat().st_size for path in files)
        print(f"wrote {len(files)} files, {size / 2**20:.1f} MiB, to {relative(PACK_DIR)}/: carry it, then run "
              "bash ci/device-bench.sh there")


def _bench_choices(arch: str, variant: str, backend: Backend) -> list[tuple[Target, Variant]]:
    """Each target with each of its variants that bench times (the SIMD tables this CPU runs)."""
    choices = []
    for target in resolve_targets(arch, backend=backend.name):
        variants = bench_variants(target, variant)
        if not variants:
            raise HarnessError(f"{target.name}: no SIMD kernel table of {variant} runs on this CPU")
        choices += [(target, chosen) for chosen in variants]
    return choices


def _generated_files_current() -> None:
    """toolchains/*.cmake, the GitHub workflow and the README's target table follow the TOML files.
    Locally they are regenerated (a new toolchains/<name>.toml becomes a job at once; commit what
    changed); in CI (CI set) they are checked as committed, and the harness job's sync tests fail if
    they are stale."""
    if os.environ.get("CI"):
        print("generated files: checked as committed (CI is set)")
        return
    changed = [relative(path) for path in regenerate()]
    if changed:
        print(f"generated files: regenerated {', '.join(changed)} from toolchains/*.toml (commit them)")


@task(help={"arch": ARCH_HELP + " (default all)", "toolchain": TOOLCHAIN_HELP})
def kernels(c: Context, arch: str = "all", toolchain: str = AUTO) -> None:
    """The conformance table of the ports: per kernel table, its template and lines, and for each kind
    whether it runs the table's own code or arch/ref's, with its tiles (asking each built variant)."""
    with reported_errors():
        backend = _chosen_backend(toolchain)
        rows, skipped = collect_conformance(resolve_targets(arch, backend=backend.name), backend)
        print(format_conformance(rows, skipped))


@task(name="generate")
def generate(c: Context) -> None:
    """Regenerate everything made from toolchains/*.toml: toolchains/*.cmake, .github/workflows/ci.yml
    and the README's target table."""
    with reported_errors():
        changed = regenerate()
        for path in changed:
            print(f"wrote {relative(path)}")
        if not changed:
            print("generated files are up to date")


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


@task(name="new-arch", help={
    "name": "the new target's name (toolchains/NAME.toml)",
    "triple": "its GNU triple, e.g. powerpc64le-linux-gnu (small_harness/targets/machines.toml has its facts)",
    "isa": "the kernel table's name: arch/ISA/ (not with --like ref)",
    "like": "fixed (fixed-width SIMD template), vla (vector-length agnostic template) or ref (portable C only)",
    "cflags": "compiler flags of the whole build, e.g. -mcpu=power9",
    "isa-flags": "flags only the kernel table's files need, e.g. -mzvector",
    "fma": "mnemonic prefixes of the ISA's vector FMA, comma-separated, e.g. xvmadd",
    "cpu": "QEMU's -cpu (default max; a board's own core for bare metal)",
    "description": "one line (default: derived from the triple)",
    "aliases": "other names for --arch, comma-separated",
    "machine": "bare-metal triples (arm-none-eabi): the QEMU board, e.g. mps2-an386 (small_harness/targets/boards.toml)",
})
def new_arch(c: Context, name: str, triple: str, isa: str = "", like: str = "fixed", cflags: str = "",
             isa_flags: str = "", fma: str = "", cpu: str = "", description: str = "", aliases: str = "",
             machine: str = "") -> None:
    """Start a port: write toolchains/NAME.toml from the triple and arch/ISA/ with the template's
    primitives to fill in; it builds and passes at once, every kind on arch/ref until they are."""
    with reported_errors():
        written = new_arch_files(name, triple, isa, like, _words(cflags), _words(isa_flags), _words(fma), cpu,
                                 description, _words(aliases), machine)
        written += regenerate()
        for path in written:
            print(f"wrote {relative(path)}")
        print(f"next: invoke test --arch {name}; then fill in the primitives (see docs/PORTING.md)")


@task(name="new-isa", help={
    "isa": "the kernel table's name: arch/ISA/",
    "target": "the target whose build gets it (toolchains/TARGET.toml)",
    "like": "fixed or vla: the template it instantiates",
    "isa-flags": "flags its files need, e.g. -march=armv8.2-a+sve",
    "fma": "mnemonic prefixes of its vector FMA, comma-separated",
    "cpu": "QEMU's -cpu for its variants; with {vlen} for vector lengths",
    "vlens": "vector lengths to test at, comma-separated (vla)",
})
def new_isa(c: Context, isa: str, target: str, like: str = "vla", isa_flags: str = "", fma: str = "", cpu: str = "",
            vlens: str = "") -> None:
    """Add a kernel table to an existing target (best first), with arch/ISA/ to fill in."""
    with reported_errors():
        try:
            lengths = [int(word) for word in _words(vlens)]
        except ValueError:
            raise HarnessError(f"--vlens takes numbers, not {vlens!r}") from None
        written = new_isa_files(target, isa, like, _words(isa_flags), _words(fma), cpu, lengths) + regenerate()
        for path in written:
            print(f"wrote {relative(path)}")
        print(f"next: invoke test --arch {target}; then fill in the primitives (see docs/PORTING.md)")


@task(
    name="run",
    default=True,
    help={
        "job": "run only these jobs (comma list); see --list-jobs",
        "parallel": "jobs at a time (default: the number of cores)",
        "toolchain": TOOLCHAIN_HELP + "; for the target jobs",
        "image-cache": "a folder to docker load toolchain images from, and save them to (for a CI cache)",
        "list-jobs": "print the jobs and the command each runs, and stop",
        "timeout": "seconds after which a job is stopped and failed",
    },
)
def ci_run(c: Context, job: str = "", parallel: int = 0, toolchain: str = AUTO, image_cache: str = "",
           list_jobs: bool = False, timeout: int = 2700) -> None:
    """The CI matrix, locally: one job per target variant, the harness job and the clean-room job,
    in parallel, each with its log and JUnit files under build/ci/<job>/; prints one table."""
    with reported_errors():
        targets = load_targets()
        jobs = ci_jobs(list(targets.values()), toolchain)
        if os.environ.get(CLEAN_ROOM_ENV):
            print("clean-room jobs: not run, this is a clean room already")
            jobs = [j for j in jobs if j.kind != "clean-room"]
        jobs = select_jobs(jobs, job)
        if list_jobs:
            for one in jobs:
                print(f"{one.name:20} invoke {' '.join(one.invoke_args)}")
            return
        _generated_files_current()
        cache = Path(image_cache).expanduser() if image_cache else None
        if cache is not None and load_images(cache):
            print(f"image cache: loaded {relative(cache / 'images.tar')}")
        started = time.monotonic()
        print(f"ci: {len(jobs)} jobs, {parallel or os.cpu_count()} at a time; logs and JUnit in {relative(CI_DIR)}/",
              flush=True)
        results = run_jobs(jobs, targets, parallel or os.cpu_count() or 1, timeout)
        print("\n" + format_ci_table(results, time.monotonic() - started))
        for result in results:
            for line in ([] if result.ok else failed_cases(result.job)):
                print(f"  {result.job.name}: {line}")
        if cache is not None:
            _save_image_cache(cache, [targets[r.job.target] for r in results if r.job.target])
        hint = reproduce_hint(results)
    if hint:
        raise Exit(f"error: {hint}", code=1)


def _save_image_cache(cache: Path, targets: list[Target]) -> None:
    try:
        client = connect_working()
    except HarnessError:
        return
    for target in targets:
        saved = save_images(client, load_targets(backend="docker")[target.name], cache)
        if saved:
            print(f"image cache: saved {', '.join(saved)} to {relative(cache / 'images.tar')}")


@task(name="workflow")
def ci_workflow(c: Context) -> None:
    """Regenerate .github/workflows/ci.yml from the TOML files (the same jobs as invoke ci)."""
    with reported_errors():
        changed = write_workflow(list(load_targets().values()))
        print(f"{'wrote' if changed else 'up to date:'} {relative(WORKFLOW_FILE)}")


@task(name="clean-room", help={"release": "debian12 (default) or debian13",
                               "junit-dir": "write the JUnit file here (clean-room.xml) and the inner run's files",
                               "fresh": "debootstrap the Debian image again instead of reusing it"})
def clean_room(c: Context, release: str = "debian12", junit_dir: str = "", fresh: bool = False) -> None:
    """Run the README's two Quick start commands in a throwaway container of a clean Debian 12 or
    13, with a fresh clone and ../shared: what a new user would meet."""
    junit = Path(junit_dir).resolve() / "clean-room.xml" if junit_dir else None
    with reported_errors():
        try:
            passed = run_clean_room(junit, release, fresh)
        except DockerUnavailable as error:
            if junit is not None:
                write_clean_room_junit(junit, [], skipped_reason=error.reason)
            if os.environ.get("CI"):
                raise HarnessError(f"the clean-room job needs a Docker engine that runs containers: {error.reason}")
            print(f"clean room: skipped, {error.reason}")
            return
    if not passed:
        raise Exit("error: a README command failed in the clean room (see above)", code=1)


namespace = Collection()
namespace.add_task(build)
namespace.add_task(elf_check)
namespace.add_task(test)
namespace.add_task(port_size)
namespace.add_task(run)
namespace.add_task(size)
namespace.add_task(bench)
namespace.add_task(device_pack)
namespace.add_task(generate)
namespace.add_task(kernels)
namespace.add_task(new_arch)
namespace.add_task(new_isa)
namespace.add_task(repro)
namespace.add_task(fuzz)
namespace.add_task(debug)

toolchain = Collection("toolchain")
toolchain.add_task(install)
toolchain.add_task(check)
toolchain.add_task(regenerate_cmake)
toolchain.add_task(bootstrap)
namespace.add_collection(toolchain)
namespace.add_task(clean_room)

ci = Collection("ci")
ci.add_task(ci_run, default=True)
ci.add_task(ci_workflow)
namespace.add_collection(ci)

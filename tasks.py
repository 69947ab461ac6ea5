"""Developer commands (`invoke --list`). A thin layer over the small_harness package: parse the
options, call the package, print the outcome. Failures print one `error: ...` line and exit 1."""

from __future__ import annotations

import shlex
from pathlib import Path
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from small_harness.backends import Backend, select_backend
from small_harness.bench import run_bench, write_json
from small_harness.bench import format_table as format_bench_table
from small_harness.bench_layers import load_bench_layers
from small_harness.build import ARTIFACT_NAMES, LIBRARY_NAME, BuildResult, build_dir_for
from small_harness.disasm import check_kernel_fmas
from small_harness.build import build as build_target
from small_harness.docker_bootstrap import bootstrap_base_image
from small_harness.docker_engine import connect
from small_harness.cmake_toolchain import write_committed_toolchains
from small_harness.elfcheck import ElfReport, check_artifacts
from small_harness.errors import HarnessError
from small_harness.host_toolchain import check_host_toolchain, describe_toolchain, install_host_toolchain
from small_harness.port_size import format_table, port_sizes
from small_harness.run_model import run_model
from small_harness.targets import DEFAULT_BACKEND, REPO_ROOT, load_targets, resolve_targets
from small_harness.testing import run_tests

ARCH_HELP = "target name or alias, comma-separated list, or 'all' (default x86_64)"
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


def _relative(path: object) -> str:
    text = str(path)
    root = f"{REPO_ROOT}/"
    return text[len(root) :] if text.startswith(root) else text


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
def build(c: Context, arch: str = "x86_64", toolchain: str = AUTO) -> None:
    """Build the library, runner and self-test for each target, then check the ELF files."""
    with reported_errors():
        backend = _chosen_backend(toolchain)
        for target in resolve_targets(arch, backend=backend.name):
            result: BuildResult = build_target(target, backend)
            reports = check_artifacts(target, result.artifacts)
            for fma in check_kernel_fmas(target, backend, result.build_dir / LIBRARY_NAME):
                print(f"  {fma.function}: {fma.fma_count} vector FMAs ({fma.mnemonic or 'none'})")
            step = "configured and built" if result.configured else "built"
            print(f"{target.name}: {step} {_relative(result.build_dir)}, ELF checks passed")
            _print_reports(reports)


@task(name="elf-check", help={"arch": ARCH_HELP, "toolchain": TOOLCHAIN_HELP})
def elf_check(c: Context, arch: str = "x86_64", toolchain: str = AUTO) -> None:
    """Check the already built artifacts of each target (machine, class, float ABI, RISC-V arch)."""
    with reported_errors():
        backend = _chosen_backend(toolchain)  # the same choice as `build`, so the same build dir
        for target in resolve_targets(arch, backend=backend.name):
            build_dir = build_dir_for(target, backend.name)
            reports = check_artifacts(target, [build_dir / name for name in ARTIFACT_NAMES])
            print(f"{target.name}: {_relative(build_dir)}: ELF checks passed")
            _print_reports(reports)


@task(help={"arch": ARCH_HELP})
def install(c: Context, arch: str = "x86_64") -> None:
    """apt-get install the cross compilers, sysroots and QEMU the targets need (needs root)."""
    with reported_errors():
        targets = resolve_targets(arch)
        installed = install_host_toolchain(targets)
        print(f"installed: {' '.join(installed)}" if installed else "nothing to install: all packages present")
        for target in targets:
            check_host_toolchain(target)


@task(help={"arch": ARCH_HELP})
def check(c: Context, arch: str = "x86_64") -> None:
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
        changed = write_committed_toolchains(list(load_targets().values()))
        for path in changed:
            print(f"wrote {_relative(path)}")
        if not changed:
            print("toolchains/*.cmake are up to date")


@task(
    help={
        "arch": ARCH_HELP,
        "toolchain": TOOLCHAIN_HELP,
        "vlen": "RISC-V vector lengths for QEMU: 'all' declared ones (default) or a comma list, e.g. 256",
        "pytest-args": "extra pytest arguments, e.g. '-k conv -x'",
    }
)
def test(c: Context, arch: str = "x86_64", toolchain: str = AUTO, vlen: str = "all", pytest_args: str = "") -> None:
    """Build each target, check its ELF files, run its C self-test and the pytest suite."""
    with reported_errors():
        targets = resolve_targets(arch)  # an unknown --arch is reported before any backend work
        backend = _chosen_backend(toolchain)
        targets = resolve_targets(arch, backend=backend.name)
        passed = run_tests(targets, backend, vlen, shlex.split(pytest_args))
    if not passed:
        raise Exit("error: tests failed (see above)", code=1)


@task(
    help={
        "model": "a float .tflite file",
        "arch": "one target (name or alias), default x86_64",
        "toolchain": TOOLCHAIN_HELP,
        "input": "input .npy (default: a fixed-seed random input)",
        "output": "write the output here as .npy",
    }
)
def run(c: Context, model: str, arch: str = "x86_64", toolchain: str = AUTO, input: str = "", output: str = "") -> None:
    """Import a .tflite model, build for the target and run one inference with the library."""
    with reported_errors():
        targets = resolve_targets(arch)
        if len(targets) != 1:
            raise HarnessError(f"--arch names {len(targets)} targets; run takes one")
        backend = _chosen_backend(toolchain)
        (target,) = resolve_targets(arch, backend=backend.name)
        run_model(Path(model), target, backend, Path(input) if input else None, Path(output) if output else None)


@task(name="port-size")
def port_size(c: Context) -> None:
    """Lines of C per ISA port under arch/ (blank lines and comments excluded) against the budget."""
    sizes = port_sizes()
    print(format_table(sizes))
    if not all(size.within_budget for size in sizes):
        raise Exit("error: a port is over its line budget", code=1)


@task(help={"arch": "native target(s): x86_64 (default), x86_64-avx512, or a comma list",
            "toolchain": "host (default) or docker: where the benchmark is built and run",
            "only": "measure only layers whose name contains one of these comma-separated words"})
def bench(c: Context, arch: str = "x86_64", toolchain: str = "host", only: str = "") -> None:
    """Time the bench layers (small_harness/bench_layers.toml) natively against the measured FMA peak;
    print a table and write build/bench/<target>.json."""
    with reported_errors():
        backend = _chosen_backend(toolchain)
        words = [word.strip() for word in only.split(",") if word.strip()]
        layers = [layer for layer in load_bench_layers() if not words or any(w in layer.name for w in words)]
        if not layers:
            raise HarnessError(f"no bench layer name contains any of: {only}")
        for target in resolve_targets(arch, backend=backend.name):
            report = run_bench(target, backend, layers)
            print(format_bench_table(report))
            print(f"wrote {_relative(write_json(report))}", flush=True)


namespace = Collection()
namespace.add_task(build)
namespace.add_task(elf_check)
namespace.add_task(test)
namespace.add_task(port_size)
namespace.add_task(run)
namespace.add_task(bench)

toolchain = Collection("toolchain")
toolchain.add_task(install)
toolchain.add_task(check)
toolchain.add_task(regenerate_cmake)
toolchain.add_task(bootstrap)
namespace.add_collection(toolchain)

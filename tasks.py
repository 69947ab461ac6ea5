"""Developer commands (`invoke --list`): each task declares its flags and calls one command of
small_harness/commands/, which does the work and prints. A failure is one `error: ...` line and exit
status 1, never a traceback. `invoke TASK --help` prints a task's help, also where it takes positional
arguments (commands/task_help.py)."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.tasks import task

from small_harness.commands import bench as bench_commands
from small_harness.commands import build as build_commands
from small_harness.commands import ci as ci_commands
from small_harness.commands import device_pack as device_pack_command
from small_harness.commands import fuzz as fuzz_command
from small_harness.commands import generate as generate_commands
from small_harness.commands import ports as port_commands
from small_harness.commands import repro as repro_commands
from small_harness.commands import run as run_commands
from small_harness.commands import test as test_command
from small_harness.commands import toolchain as toolchain_commands
from small_harness.commands.common import use_build_jobs
from small_harness.commands.task_help import help_before_positionals
from small_harness.core.errors import HarnessError
from small_harness.targets.registry import NATIVE

ARCH = ("target name or alias, comma-separated list, 'all', or 'native' (the default: the first target "
        "that runs on this machine without an emulator)")
TOOLCHAIN = ("where compilers and QEMU come from: auto (docker when an engine answers, else host), "
             "docker (a toolchain image per target), host (installed on this machine)")
VARIANT = "variants: all (default) or a comma list, e.g. vlen256 (RISC-V), avx2 (x86-64), sve-vlen512"
CASE = "a case file the harness saved (build/crashes/*.case)"
REPRO_ARCH = "one target, or one variant of it (riscv64@vlen256), as the failure report names it"
BENCH_VARIANT = "which kernel tables: all (default: every SIMD table this CPU runs) or a comma list, e.g. avx2"
PEER_ISA = ("LiteRT's kernels: native (default), or avx2: AVX-512, AMX and AVX-VNNI hidden from it (CPUID faulting), "
            "as on a CPU with AVX2 and nothing newer; pair with --variant avx2 (results in build/bench/litert-avx2/)")
ONLY = "only layers whose name contains one of these comma-separated words"
AUTO = "auto"
JOBS = ("compile jobs at once in the builds (default: $SMALL_BUILD_JOBS, else every CPU this process may use; "
        "ninja's own default is the cores plus 2)")
RUN_ARCH = ("one target (name or alias, default native): the library's own choice of kernels; or one variant of it, "
            "its kernel table forced (and its vector length), e.g. x86_64@avx2, aarch64@sve-vlen512, riscv64@vlen256")

help_before_positionals()


@contextmanager
def reported_errors() -> Iterator[None]:
    """A HarnessError becomes one `error: ...` line and exit status 1, without a traceback."""
    try:
        yield
    except HarnessError as error:
        if error.details:
            print(error.details, file=sys.stderr)
        raise Exit(f"error: {error.message}", code=1) from None


def calls(command: Callable[..., None], *args: object, jobs: int = 0) -> None:
    """Runs a command, its errors in one line; `jobs` is the --jobs of a task that builds."""
    with reported_errors():
        use_build_jobs(jobs)
        command(*args)


def _path(text: str) -> Path | None:
    return Path(text).resolve() if text else None


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


def _numbers(text: str, flag: str) -> list[int]:
    try:
        return [int(word) for word in _words(text)]
    except ValueError:
        raise Exit(f"error: {flag} takes numbers, not {text!r}", code=1) from None


# ---- build, test, run ---------------------------------------------------------------------------

@task(help={"arch": ARCH, "toolchain": TOOLCHAIN, "jobs": JOBS})
def build(c: Context, arch: str = NATIVE, toolchain: str = AUTO, jobs: int = 0) -> None:
    """Build the library, runner and self-test for each target, then check the ELF files."""
    calls(build_commands.build_targets, arch, toolchain, jobs=jobs)


@task(name="elf-check", help={"arch": ARCH, "toolchain": TOOLCHAIN})
def elf_check(c: Context, arch: str = NATIVE, toolchain: str = AUTO) -> None:
    """Check the already built artifacts of each target (machine, class, float ABI, RISC-V arch)."""
    calls(build_commands.elf_check, arch, toolchain)


@task(help={"arch": ARCH, "toolchain": TOOLCHAIN, "variant": VARIANT,
            "harness": "run the harness's own tests (tests/harness/) instead of a target's; builds nothing",
            "junit-dir": "write JUnit XML here: pytest.xml, and selftest-<variant>.xml from ctest",
            "pytest-args": "extra pytest arguments, e.g. '-k conv -x'", "jobs": JOBS})
def test(c: Context, arch: str = NATIVE, toolchain: str = AUTO, variant: str = "all", harness: bool = False,
         junit_dir: str = "", pytest_args: str = "", jobs: int = 0) -> None:
    """Build each target, check its ELF files, run its C self-test and its test suite (tests/target/);
    or, with --harness, the harness's own tests."""
    calls(test_command.test, arch, toolchain, variant, harness, _path(junit_dir), shlex.split(pytest_args), jobs=jobs)


@task(help={"model": "a float .tflite file", "arch": RUN_ARCH,
            "toolchain": TOOLCHAIN, "input": "input .npy (default: a fixed-seed random input)",
            "output": "write the output here as .npy", "jobs": JOBS})
def run(c: Context, model: str, arch: str = NATIVE, toolchain: str = AUTO, input: str = "", output: str = "",
        jobs: int = 0) -> None:
    """Import a .tflite model, build for the target and run one inference with the library; print the
    kernel tables in force and the kernel that served each layer."""
    calls(run_commands.run, Path(model), arch, toolchain, Path(input) if input else None,
          Path(output) if output else None, jobs=jobs)


@task(help={"model": "a float .tflite file, or 'all' (default) for the MLPerf Tiny float models",
            "arch": "bare-metal target(s): a name, a comma list, or 'all' (default: every bare-metal target)",
            "toolchain": TOOLCHAIN, "jobs": JOBS})
def size(c: Context, model: str = "all", arch: str = "all", toolchain: str = AUTO, jobs: int = 0) -> None:
    """Build each model into a bare-metal firmware image, run it, and report its flash and RAM (ELF
    sections, arena, heap, peak stack) against the board's memory map."""
    calls(run_commands.size, model, arch, toolchain, jobs=jobs)


@task(help={"file": CASE, "arch": REPRO_ARCH, "toolchain": TOOLCHAIN, "jobs": JOBS})
def repro(c: Context, file: str, arch: str = NATIVE, toolchain: str = AUTO, jobs: int = 0) -> None:
    """Replay a saved case (the requests that crashed or hung a runner) on a fresh runner, alone.
    Exits 1 when the runner crashes or hangs again, 0 when it serves the case cleanly."""
    calls(repro_commands.repro, Path(file), arch, toolchain, jobs=jobs)


@task(help={"file": CASE, "arch": REPRO_ARCH,
            "toolchain": "host (default): QEMU runs here, where gdb can reach its port",
            "port": "the gdbstub's TCP port (default: a free one)", "jobs": JOBS})
def debug(c: Context, file: str, arch: str = NATIVE, toolchain: str = "host", port: int = 0, jobs: int = 0) -> None:
    """Run a saved case under QEMU's gdbstub and print the gdb-multiarch command that attaches to it
    (for a native target: the gdb command that runs it)."""
    calls(repro_commands.debug, Path(file), arch, toolchain, port, jobs=jobs)


@task(help={"seconds": "how long each fuzzer runs (all run at once)", "arch": "the fuzzing target(s): "
            "default every target whose TOML says fuzzing = true", "toolchain": TOOLCHAIN,
            "junit-dir": "write fuzz.xml here (one case per fuzzer)", "jobs": JOBS})
def fuzz(c: Context, seconds: int = 60, arch: str = "all", toolchain: str = AUTO, junit_dir: str = "",
         jobs: int = 0) -> None:
    """Run the libFuzzer targets (model loader plus one inference; pre-packed loader; layer descriptors;
    runner protocol) with ASan and UBSan. Corpora grow in build/fuzz/; anything found is saved in
    tests/fuzz/regressions/, which the test suite replays on every target. Exits 1 on a finding."""
    calls(fuzz_command.fuzz, seconds, arch, toolchain, _path(junit_dir), jobs=jobs)


# ---- ports --------------------------------------------------------------------------------------

@task(name="port-size")
def port_size(c: Context) -> None:
    """Lines of C per ISA port under arch/ (blank lines and comments excluded) against the goal of
    the template it instantiates; the templates apart."""
    calls(port_commands.port_size)


@task(help={"arch": ARCH + " (default all)", "toolchain": TOOLCHAIN, "jobs": JOBS})
def kernels(c: Context, arch: str = "all", toolchain: str = AUTO, jobs: int = 0) -> None:
    """The conformance table of the ports: per kernel table, its template and lines, and for each kind
    whether it runs the table's own code or arch/ref's, with its tiles (asking each built variant)."""
    calls(port_commands.kernels, arch, toolchain, jobs=jobs)


@task
def generate(c: Context) -> None:
    """Regenerate everything made from toolchains/*.toml: toolchains/*.cmake and *.ld,
    .github/workflows/ci.yml and the README's target table."""
    calls(generate_commands.generate)


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
    calls(generate_commands.new_arch, name, triple, isa, like, _words(cflags), _words(isa_flags), _words(fma), cpu,
          description, _words(aliases), machine)


@task(name="new-isa", help={
    "isa": "the kernel table's name: arch/ISA/",
    "target": "the target whose build gets it (toolchains/TARGET.toml)",
    "like": "fixed or vla: the template it instantiates",
    "isa-flags": "flags its files need, e.g. -march=armv8.2-a+sve",
    "fma": "mnemonic prefixes of its vector FMA, comma-separated",
    "cpu": "QEMU's -cpu for its variants; with {vlen} for vector lengths",
    "vlens": "vector lengths to test at, comma-separated (vla)",
    "fallback-cpu": "a QEMU -cpu of the target's machine without the ISA, where the build must take the next table",
})
def new_isa(c: Context, isa: str, target: str, like: str = "vla", isa_flags: str = "", fma: str = "", cpu: str = "",
            vlens: str = "", fallback_cpu: str = "") -> None:
    """Add a kernel table to an existing target (best first), with arch/ISA/ to fill in."""
    calls(generate_commands.new_isa, target, isa, like, _words(isa_flags), _words(fma), cpu, _numbers(vlens, "--vlens"),
          fallback_cpu)


# ---- bench --------------------------------------------------------------------------------------

@task(name="layers", default=True, help={"arch": "native target(s): native (default), a name, or a comma list",
                                         "variant": BENCH_VARIANT, "toolchain": "host (default) or docker",
                                         "only": ONLY, "peer-isa": PEER_ISA, "jobs": JOBS})
def bench_layers(c: Context, arch: str = NATIVE, variant: str = "all", toolchain: str = "host", only: str = "",
                 peer_isa: str = "native", jobs: int = 0) -> None:
    """Time the bench layers (small_harness/bench/layers.toml) natively, per kernel table, against the
    measured FMA peak and LiteRT's same one-operator model: a table, build/bench/<variant>.json and a chart."""
    calls(bench_commands.layers, arch, variant, toolchain, only, peer_isa, jobs=jobs)


@task(name="models", help={"arch": "native target(s)", "variant": BENCH_VARIANT, "toolchain": "host (default) or docker",
                           "threads": "thread counts, comma-separated (default: 1 and every CPU this process may use)",
                           "peer-isa": PEER_ISA, "jobs": JOBS})
def bench_models(c: Context, arch: str = NATIVE, variant: str = "all", toolchain: str = "host", threads: str = "",
                 peer_isa: str = "native", jobs: int = 0) -> None:
    """The MLPerf Tiny float models beside LiteRT, at 1 and N threads: a table,
    build/bench/models-<variant>.json and a chart."""
    calls(bench_commands.models, arch, variant, toolchain, threads, peer_isa, jobs=jobs)


@task(name="against", help={"revision": "any git revision (a commit, a tag, HEAD~3)", "arch": "native target(s)",
                            "variant": BENCH_VARIANT, "toolchain": "host (default) or docker",
                            "threads": "thread counts, comma-separated (default: 1 and N)", "jobs": JOBS})
def bench_against(c: Context, revision: str, arch: str = NATIVE, variant: str = "all", toolchain: str = "host",
                  threads: str = "", jobs: int = 0) -> None:
    """The MLPerf Tiny float models through this checkout's library against REVISION's, in alternating
    rounds, to measure a change (build/bench/against-<commit>-<variant>.json)."""
    calls(bench_commands.against, revision, arch, variant, toolchain, threads, jobs=jobs)


@task(name="scaling", help={"arch": "native target(s)", "variant": BENCH_VARIANT, "toolchain": "host (default) or docker",
                            "only": ONLY, "threads": "thread counts, comma-separated (default: 1 and N)",
                            "peer-isa": PEER_ISA, "jobs": JOBS})
def bench_scaling(c: Context, arch: str = NATIVE, variant: str = "all", toolchain: str = "host", only: str = "",
                  threads: str = "", peer_isa: str = "native", jobs: int = 0) -> None:
    """Each bench layer at each thread count beside LiteRT, with its parallel efficiency:
    build/bench/scaling-<variant>.json and a chart."""
    calls(bench_commands.scaling, arch, variant, toolchain, only, threads, peer_isa, jobs=jobs)


@task(name="counts", help={"arch": "emulated target(s): a name, a comma list, or all with [counts] in their TOML",
                           "variant": VARIANT, "toolchain": "host (default): the plugin is a host library",
                           "check": "compare with tests/baselines/<target>.json; exit 1 on a regression",
                           "update-baseline": "write the counts into tests/baselines/<target>.json",
                           "junit-dir": "write counts.xml (one case per variant) here", "jobs": JOBS})
def bench_counts(c: Context, arch: str = "all", variant: str = "all", toolchain: str = "host", check: bool = False,
                 update_baseline: bool = False, junit_dir: str = "", jobs: int = 0) -> None:
    """Exact instruction counts per layer of ResNet-8 under QEMU (build/bench/counts-<variant>.json), checked
    against the committed baselines with --check."""
    calls(bench_commands.counts, arch, variant, toolchain, check, update_baseline, _path(junit_dir), jobs=jobs)


@task(name="device-pack", help={"python": "the Python version of the machine that will run ci/device-bench.sh "
                                           "(default 3.12)"})
def device_pack(c: Context, python: str = "3.12") -> None:
    """Write .device/ (ignored by git) for ci/device-bench.sh on a machine with no network: wheels of the
    harness's packages it lacks, for its Python, and the MLPerf Tiny float models. Carry .device along."""
    calls(device_pack_command.device_pack, python)


# ---- toolchains ---------------------------------------------------------------------------------

@task(help={"arch": ARCH + "; 'none' for the harness's own programs only"})
def install(c: Context, arch: str = NATIVE) -> None:
    """apt-get install the programs the harness runs (small_harness/core/tools.toml) and the cross
    compilers, sysroots and QEMU the targets need (needs root)."""
    calls(toolchain_commands.install, arch)


@task(help={"arch": ARCH})
def check(c: Context, arch: str = NATIVE) -> None:
    """Check that each target's compiler, sysroot and QEMU are installed; show their versions."""
    calls(toolchain_commands.check, arch)


@task
def bootstrap(c: Context) -> None:
    """Make the Docker base image offline: debootstrap Debian trixie from this machine's apt mirror
    and docker import it as small-base:trixie (needs root). For machines without a registry."""
    calls(toolchain_commands.bootstrap)


@task(name="cmake")
def regenerate_cmake(c: Context) -> None:
    """Regenerate toolchains/<name>.cmake from the toolchains/<name>.toml files."""
    calls(toolchain_commands.regenerate_cmake)


# ---- CI -----------------------------------------------------------------------------------------

@task(name="run", default=True, help={
    "job": "run only these jobs (comma list); see --list-jobs",
    "parallel": "jobs at a time (default: the number of cores)",
    "toolchain": TOOLCHAIN + "; for the target jobs",
    "image-cache": "a folder to docker load toolchain images from, and save them to (for a CI cache)",
    "list-jobs": "print the jobs and the command each runs, and stop",
    "timeout": "seconds after which a job is stopped and failed",
})
def ci_run(c: Context, job: str = "", parallel: int = 0, toolchain: str = AUTO, image_cache: str = "",
           list_jobs: bool = False, timeout: int = 2700) -> None:
    """The CI matrix, locally: one job per target variant, the harness job and the clean-room job,
    in parallel, each with its log and JUnit files under build/ci/<job>/; prints one table."""
    calls(ci_commands.ci_run, job, parallel, toolchain, image_cache, list_jobs, timeout)


@task(name="workflow")
def ci_workflow(c: Context) -> None:
    """Regenerate .github/workflows/ci.yml from the TOML files (the same jobs as invoke ci)."""
    calls(ci_commands.workflow)


@task(name="clean-room", help={"release": "debian12 (default) or debian13",
                               "junit-dir": "write the JUnit file here (clean-room.xml) and the inner run's files",
                               "fresh": "debootstrap the Debian image again instead of reusing it"})
def clean_room(c: Context, release: str = "debian12", junit_dir: str = "", fresh: bool = False) -> None:
    """Run the README's two Quick start commands in a throwaway container of a clean Debian 12 or
    13, with a fresh clone and ../shared: what a new user would meet."""
    calls(ci_commands.clean_room, release, _path(junit_dir), fresh)


namespace = Collection(build, elf_check, test, run, size, repro, debug, fuzz, port_size, kernels, generate, new_arch,
                       new_isa, device_pack, clean_room)
namespace.add_collection(Collection("bench", bench_layers, bench_models, bench_against, bench_scaling, bench_counts))
namespace.add_collection(Collection("toolchain", install, check, regenerate_cmake, bootstrap))
namespace.add_collection(Collection("ci", ci_run, ci_workflow))

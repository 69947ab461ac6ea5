"""Configure and build the library, runner and self-test for one target with CMake + Ninja."""

from __future__ import annotations

import fcntl
import os
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path

from small_harness.toolchain.backends import Backend
from small_harness.generate.cmake_toolchain import render_toolchain
from small_harness.core.errors import BuildError, HarnessError
from small_harness.targets.toml_file import DEFAULT_BACKEND
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target

LIBRARY_NAME = "libsmall.a"
RUNNER_NAME = "small_runner"
SELFTEST_NAME = "small_selftest"
ARTIFACT_NAMES = (LIBRARY_NAME, RUNNER_NAME, SELFTEST_NAME)
FUZZER_NAMES = ("fuzz_model", "fuzz_packed", "fuzz_layer", "fuzz_runner")  # tests/fuzz/, built with -DSMALL_FUZZ=ON
TOOLCHAIN_FILE_NAME = "toolchain.cmake"
FAILURE_TAIL_LINES = 20
JOBS_ENV = "SMALL_BUILD_JOBS"  # compile jobs at once (`--jobs N` of the tasks that build sets it)


@dataclass(frozen=True)
class BuildResult:
    target: Target
    backend: str
    build_dir: Path
    runner: Path
    artifacts: list[Path]  # libsmall.a, small_runner, small_selftest
    configured: bool  # True when CMake's configure step ran in this build


def build_dir_for(target: Target, backend: str = DEFAULT_BACKEND, fuzz: bool = False) -> Path:
    """One directory per backend and target (and its fuzzing build), so switching never forces a
    full rebuild."""
    return REPO_ROOT / "build" / backend / (f"{target.name}-fuzz" if fuzz else target.name)


def run_build_command(backend: Backend, target: Target, argv: list[str], cwd: Path) -> str:
    """Run one build command with the backend's toolchain and return its output."""
    result = backend.run(target, argv, cwd)
    if result.returncode != 0:
        tail = "\n".join(result.output.rstrip().splitlines()[-FAILURE_TAIL_LINES:])
        raise BuildError(f"{target.name} ({backend.name}): {shlex.join(argv)} failed with exit code "
                         f"{result.returncode}", details=tail)
    return result.output


def set_build_jobs(jobs: int) -> None:
    """`--jobs N`: every build of this process and of those it starts (the test suite's) runs N
    compile jobs at once; 0 leaves SMALL_BUILD_JOBS, or the default, as they are."""
    if jobs < 0:
        raise HarnessError(f"--jobs {jobs}: give a number of compile jobs of at least 1 (0: the default)")
    if jobs:
        os.environ[JOBS_ENV] = str(jobs)


def build_jobs() -> int:
    """Compile jobs at once: SMALL_BUILD_JOBS, else every CPU this process may use (its affinity: a
    container's or taskset's share, where ninja's own default is the machine's cores plus 2)."""
    text = os.environ.get(JOBS_ENV, "").strip()
    if not text:
        return len(os.sched_getaffinity(0))
    try:
        jobs = int(text)
    except ValueError:
        jobs = 0
    if jobs < 1:
        raise HarnessError(f"{JOBS_ENV}={text!r}: give a number of compile jobs of at least 1")
    return jobs


def _write_toolchain_file(target: Target, build_dir: Path) -> bool:
    """Write the rendered toolchain file into the build dir; True if its text changed."""
    path = build_dir / TOOLCHAIN_FILE_NAME
    text = render_toolchain(target)
    if path.is_file() and path.read_text() == text:
        return False
    path.write_text(text)
    return True


def _forget_configuration(build_dir: Path) -> None:
    """CMake keeps the compiler in its cache; a changed toolchain needs a fresh configure."""
    (build_dir / "CMakeCache.txt").unlink(missing_ok=True)
    shutil.rmtree(build_dir / "CMakeFiles", ignore_errors=True)


def _configure(backend: Backend, target: Target, build_dir: Path, fuzz: bool, source: Path) -> None:
    argv = [
        "cmake",
        "-S",
        str(source),
        "-B",
        str(build_dir),
        "-G",
        "Ninja",
        f"-DCMAKE_TOOLCHAIN_FILE={build_dir / TOOLCHAIN_FILE_NAME}",
        f"-DSMALL_FUZZ={'ON' if fuzz else 'OFF'}",
    ]
    try:
        run_build_command(backend, target, argv, cwd=REPO_ROOT)
    except BuildError:
        _forget_configuration(build_dir)  # so the next attempt configures again
        raise


def build(target: Target, backend: Backend, fuzz: bool = False, source: Path = REPO_ROOT,
          build_dir: Path | None = None) -> BuildResult:
    """Build `target` with the backend's toolchain; only what changed is recompiled. With `fuzz`, in
    a directory of its own and with the libFuzzer targets too (a target whose TOML says fuzzing). A
    `source` tree other than this checkout (another revision: bench --against) needs its `build_dir`,
    inside this checkout, which the Docker toolchains see."""
    if fuzz and not target.fuzzing:
        raise HarnessError(f"{target.name}: its TOML does not say `fuzzing = true` (clang with the sanitizers)")
    if target.backend != backend.name:
        raise HarnessError(f"{target.name}: was loaded for the {target.backend} backend, not {backend.name}")
    backend.prepare(target)

    if build_dir is None:
        build_dir = build_dir_for(target, backend.name, fuzz)
    build_dir.mkdir(parents=True, exist_ok=True)
    # Two runs building the same directory at once (two terminals, parallel jobs) would corrupt it:
    # the second waits for the first, then finds the build up to date.
    with (build_dir / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(target, backend, build_dir, fuzz, source)


def _build_locked(target: Target, backend: Backend, build_dir: Path, fuzz: bool, source: Path) -> BuildResult:
    toolchain_changed = _write_toolchain_file(target, build_dir)
    if toolchain_changed:
        _forget_configuration(build_dir)
    configured_before = (build_dir / "CMakeCache.txt").is_file() and (build_dir / "build.ninja").is_file()
    needs_configure = toolchain_changed or not configured_before
    if needs_configure:
        _configure(backend, target, build_dir, fuzz, source)
    run_build_command(backend, target, ["cmake", "--build", str(build_dir), "--parallel", str(build_jobs())],
                      cwd=REPO_ROOT)

    artifacts = [build_dir / name for name in ARTIFACT_NAMES + (FUZZER_NAMES if fuzz else ())]
    missing = [path.name for path in artifacts if not path.is_file()]
    if missing:
        raise BuildError(f"{target.name}: the build succeeded but did not produce {', '.join(missing)} in {build_dir}")
    return BuildResult(
        target=target,
        backend=backend.name,
        build_dir=build_dir,
        runner=build_dir / RUNNER_NAME,
        artifacts=artifacts,
        configured=needs_configure,
    )

"""Configure and build the library, runner and self-test for one target with CMake + Ninja."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from small_harness.cmake_toolchain import render_toolchain
from small_harness.errors import BuildError, HarnessError
from small_harness.host_toolchain import check_host_toolchain
from small_harness.targets import DEFAULT_BACKEND, REPO_ROOT, Target

LIBRARY_NAME = "libsmall.a"
RUNNER_NAME = "small_runner"
SELFTEST_NAME = "small_selftest"
ARTIFACT_NAMES = (LIBRARY_NAME, RUNNER_NAME, SELFTEST_NAME)
TOOLCHAIN_FILE_NAME = "toolchain.cmake"
FAILURE_TAIL_LINES = 20

# Backends build() can drive today; the Docker backend adds itself here.
IMPLEMENTED_BACKENDS = (DEFAULT_BACKEND,)


@dataclass(frozen=True)
class BuildResult:
    target: Target
    backend: str
    build_dir: Path
    runner: Path
    artifacts: list[Path]  # libsmall.a, small_runner, small_selftest
    configured: bool  # True when CMake's configure step ran in this build


def build_dir_for(target: Target, backend: str = DEFAULT_BACKEND) -> Path:
    """One directory per backend and target, so switching never forces a full rebuild."""
    return REPO_ROOT / "build" / backend / target.name


def run_build_command(argv: list[str], cwd: Path) -> str:
    """Run one build command and return its output; the only place builds start a process,
    so a container backend can run the same argv elsewhere."""
    result = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join(result.stdout.rstrip().splitlines()[-FAILURE_TAIL_LINES:])
        raise BuildError(f"{shlex.join(argv)} failed with exit code {result.returncode}", details=tail)
    return result.stdout


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


def _configure(build_dir: Path) -> None:
    argv = [
        "cmake",
        "-S",
        str(REPO_ROOT),
        "-B",
        str(build_dir),
        "-G",
        "Ninja",
        f"-DCMAKE_TOOLCHAIN_FILE={build_dir / TOOLCHAIN_FILE_NAME}",
    ]
    try:
        run_build_command(argv, cwd=REPO_ROOT)
    except BuildError:
        _forget_configuration(build_dir)  # so the next attempt configures again
        raise


def require_implemented_backend(backend: str) -> None:
    if backend not in IMPLEMENTED_BACKENDS:
        raise HarnessError(f"backend '{backend}' is not available; available: {', '.join(IMPLEMENTED_BACKENDS)}")


def build(target: Target, backend: str = DEFAULT_BACKEND) -> BuildResult:
    """Build `target`; only what changed is recompiled."""
    require_implemented_backend(backend)
    if target.backend != backend:
        raise HarnessError(f"{target.name}: was loaded for the {target.backend} backend, not {backend}")
    check_host_toolchain(target)

    build_dir = build_dir_for(target, backend)
    build_dir.mkdir(parents=True, exist_ok=True)
    toolchain_changed = _write_toolchain_file(target, build_dir)
    if toolchain_changed:
        _forget_configuration(build_dir)
    configured_before = (build_dir / "CMakeCache.txt").is_file() and (build_dir / "build.ninja").is_file()
    needs_configure = toolchain_changed or not configured_before
    if needs_configure:
        _configure(build_dir)
    run_build_command(["cmake", "--build", str(build_dir)], cwd=REPO_ROOT)

    artifacts = [build_dir / name for name in ARTIFACT_NAMES]
    missing = [path.name for path in artifacts if not path.is_file()]
    if missing:
        raise BuildError(f"{target.name}: the build succeeded but did not produce {', '.join(missing)} in {build_dir}")
    return BuildResult(
        target=target,
        backend=backend,
        build_dir=build_dir,
        runner=build_dir / RUNNER_NAME,
        artifacts=artifacts,
        configured=needs_configure,
    )

"""`invoke device-pack`: what ci/device-bench.sh needs on a machine that gets this checkout alone and
reaches no network (a lent many-core machine): wheels of the Python packages the harness needs and
such a machine lacks, for its Python version, and the MLPerf Tiny float models. Written to .device/
(ignored by git), which the caller carries along with the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from small_harness.core.errors import HarnessError
from small_harness.models.mlperf_tiny import FLOAT_MODELS, MODELS_DIR
from small_harness.core.paths import REPO_ROOT

PACK_DIR = REPO_ROOT / ".device"
# The harness's own needs that a machine with numpy, matplotlib, requests and pytest may lack (a CUDA image: its
# packages are listed in the device's KINDS.md), at the versions installed here, which CI tested.
CARRIED_PACKAGES = ("invoke", "ai-edge-litert", "docker", "pyelftools", "flatbuffers", "tflite")
# pip matches a wheel's manylinux tag exactly: offer every glibc a current Linux has.
PLATFORMS = ("manylinux1_x86_64", "manylinux2014_x86_64", *(f"manylinux_2_{n}_x86_64" for n in range(17, 40)))


def pinned_requirements(packages: tuple[str, ...] = CARRIED_PACKAGES) -> list[str]:
    """name==version for each package, at the version this Python has installed."""
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            raise HarnessError(f"{name} is not installed here: run ci/setup.sh first") from None
    return pins


def download_command(python_version: str, destination: Path, requirements: list[str]) -> list[str]:
    """pip download of binary wheels for CPython `python_version` on x86-64 Linux, without their
    dependencies (the machine has those, or CARRIED_PACKAGES names them)."""
    platforms = [flag for platform in PLATFORMS for flag in ("--platform", platform)]
    return [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
            "--python-version", python_version, "--implementation", "cp", *platforms,
            "--dest", str(destination), *requirements]


def checkout_revision() -> str:
    """HEAD's commit, with -dirty where the working tree differs from it: which code the results are of
    (the machine gets the files without git)."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD") or "unknown"
    return commit + ("-dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def pack(python_version: str, destination: Path = PACK_DIR, models_dir: Path = MODELS_DIR) -> list[Path]:
    """Writes destination/wheels, destination/models and destination/revision afresh; returns the
    files written."""
    if not all(part.isdigit() for part in python_version.split(".")) or python_version.count(".") != 1:
        raise HarnessError(f"--python takes a version such as 3.12, not {python_version!r}")
    models = [models_dir / f"{name}.tflite" for name in FLOAT_MODELS]
    missing = [str(path) for path in models if not path.is_file()]
    if missing:
        raise HarnessError(f"no {', '.join(missing)}: the MLPerf Tiny models go in {models_dir} "
                           "(or set SMALL_MODELS_DIR)")
    wheels, packed_models = destination / "wheels", destination / "models"
    for folder in (wheels, packed_models):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    result = subprocess.run(download_command(python_version, wheels, pinned_requirements()),
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise HarnessError(f"pip download for Python {python_version} failed: {last}")
    for path in models:
        shutil.copyfile(path, packed_models / path.name)
    licence = models_dir / "LICENSE.md"
    if licence.is_file():
        shutil.copyfile(licence, packed_models / licence.name)
    (destination / "revision").write_text(checkout_revision() + "\n")
    return sorted(p for p in destination.rglob("*") if p.is_file())

"""`invoke device-pack` and ci/device-bench.sh, without the network: the pip command the pack runs,
the versions it pins, what it refuses before downloading anything, and the script's own refusals.
(The whole path, pack for Python 3.13 then the script in a Debian 13 container with no network, is
a manual check: docs/PERFORMANCE.md, "Thread scaling on a many-core machine".)"""

from __future__ import annotations

import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import pytest

from small_harness.ci.device_pack import CARRIED_PACKAGES, download_command, pack, pinned_requirements
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "ci" / "device-bench.sh"


def test_the_download_is_binary_wheels_for_that_python_without_their_dependencies(tmp_path: Path) -> None:
    command = download_command("3.12", tmp_path, ["invoke==3.0.3"])
    assert command[1:4] == ["-m", "pip", "download"]
    assert command[command.index("--python-version") + 1] == "3.12"
    assert command[command.index("--implementation") + 1] == "cp"
    assert command[command.index("--dest") + 1] == str(tmp_path)
    assert {"--no-deps", "--only-binary=:all:"} <= set(command)
    platforms = {command[i + 1] for i, word in enumerate(command) if word == "--platform"}
    # LiteRT's wheels are manylinux_2_27; pip matches the tag exactly.
    assert {"manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"} <= platforms
    assert command[-1] == "invoke==3.0.3"


def test_the_carried_packages_are_pinned_to_the_versions_installed_here() -> None:
    pins = pinned_requirements()
    assert pins == [f"{name}=={metadata.version(name)}" for name in CARRIED_PACKAGES]
    assert "ai-edge-litert" in CARRIED_PACKAGES and "invoke" in CARRIED_PACKAGES
    with pytest.raises(HarnessError, match="not installed here: run ci/setup.sh"):
        pinned_requirements(("no-such-package-small",))


@pytest.mark.parametrize("version", ["3", "3.x", "three", "3.12.1", "3."])
def test_a_bad_python_version_is_refused_before_anything_is_written(tmp_path: Path, version: str) -> None:
    with pytest.raises(HarnessError, match="--python takes a version such as 3.12"):
        pack(version, tmp_path / "pack")
    assert not (tmp_path / "pack").exists()


def test_missing_models_are_named_before_anything_is_written(tmp_path: Path) -> None:
    empty = tmp_path / "models"
    empty.mkdir()
    with pytest.raises(HarnessError, match=r"ad01_fp32\.tflite.*SMALL_MODELS_DIR"):
        pack("3.12", tmp_path / "pack", models_dir=empty)
    assert not (tmp_path / "pack").exists()


def _script_in(tmp_path: Path) -> Path:
    """The script in a checkout of its own (it works from the folder above ci/)."""
    (tmp_path / "ci").mkdir()
    return Path(shutil.copy(SCRIPT, tmp_path / "ci" / SCRIPT.name))


def test_the_script_refuses_an_unknown_part(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(_script_in(tmp_path)), "everything"], capture_output=True, text=True,
                            check=False, env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")})
    assert result.returncode == 2
    assert "usage: bash ci/device-bench.sh [all|layers|models]" in result.stderr


def test_the_script_without_a_pack_says_how_to_make_one(tmp_path: Path) -> None:
    result = subprocess.run(["bash", str(_script_in(tmp_path))], capture_output=True, text=True, check=False,
                            env={"PATH": "/usr/bin:/bin", "OUT": str(tmp_path / "out")})
    assert result.returncode == 2
    assert "run 'invoke device-pack --python X.Y' where pip reaches PyPI, and carry .device" in result.stderr
    assert not (tmp_path / "out").exists(), "nothing is written before the pack is found"

"""The invoke tasks, run as a user runs them: errors are one line, without a traceback."""

from __future__ import annotations

import subprocess
import sys

from small_harness.targets import REPO_ROOT, known_names, load_targets


def run_invoke(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )


def test_unknown_arch_prints_one_error_line_and_exits_1() -> None:
    result = run_invoke("build", "--arch", "mips")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [f"error: unknown target 'mips'; known: {known_names(load_targets())}"]
    assert "Traceback" not in result.stdout + result.stderr


def test_unknown_toolchain_prints_one_error_line() -> None:
    result = run_invoke("build", "--toolchain", "podman")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: unknown toolchain 'podman'; choose one of: auto, docker, host"]


def test_every_task_is_listed() -> None:
    result = run_invoke("--list")
    assert result.returncode == 0, result.stderr
    for name in ("build", "test", "run", "bench", "ci", "port-size", "toolchain.install", "toolchain.cmake"):
        assert name in result.stdout

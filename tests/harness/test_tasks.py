"""The invoke tasks, run as a user runs them: errors are one line, without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from small_harness.mlperf_tiny import MODELS_DIR
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


def _one_error_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and expected in errors[0], result.stderr


def test_run_refuses_bad_paths_and_inputs_in_one_line_before_building(tmp_path: Path) -> None:
    """Each is refused before the build (so these run with no toolchain at all)."""
    model = str(MODELS_DIR / "ad01_fp32.tflite")
    strings, complex_values = tmp_path / "strings.npy", tmp_path / "complex.npy"
    np.save(strings, np.array(["a"] * 640))
    np.save(complex_values, np.ones(640, complex))
    (tmp_path / "junk.npy").write_text("junk")
    cases = {
        ("--model", str(tmp_path / "missing.tflite")): "cannot read (No such file or directory)",
        ("--model", str(REPO_ROOT / "README.md")): "not a .tflite file",
        ("--model", model, "--output", str(tmp_path / "missing" / "x.npy")): "does not exist",
        ("--model", model, "--output", str(tmp_path)): "is a directory",
        ("--model", model, "--input", str(strings)): "holds <U1 values",
        ("--model", model, "--input", str(complex_values)): "holds complex128 values",
        ("--model", model, "--input", str(tmp_path / "junk.npy")): "cannot read a .npy array",
        ("--model", model, "--input", str(tmp_path / "none.npy")): "cannot read a .npy array",
    }
    for arguments, expected in cases.items():
        _one_error_line(run_invoke("run", *arguments, "--toolchain", "host"), expected)


def test_repro_and_fuzz_refuse_bad_arguments_in_one_line(tmp_path: Path) -> None:
    _one_error_line(run_invoke("repro", str(tmp_path / "none.case"), "--arch", "riscv64@vlen3", "--toolchain", "host"),
                    "riscv64 has no variant riscv64@vlen3")
    _one_error_line(run_invoke("fuzz", "--arch", "riscv64", "--toolchain", "host"), "fuzzing = true")

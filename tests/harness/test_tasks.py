"""The invoke tasks, run as a user runs them: errors are one line, without a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import tflite

from small_harness.models.mlperf_tiny import MODELS_DIR
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.registry import known_names, load_targets
from small_harness.models.tflite_writer import Graph, Operator, write
from test_tflite_malformed import fully_connected


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
    for name in ("build", "test", "run", "bench.layers (bench)", "bench.models", "bench.counts", "bench.scaling",
                 "bench.against", "ci.run (ci)", "port-size", "toolchain.install", "toolchain.cmake"):
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


def _huge_input_model() -> Graph:
    """An input of 2^33 values (32 GiB of float32) reshaped: nothing in the file is large."""
    g = Graph()
    x, y = g.tensor("x", (1, 65536, 65536, 2)), g.tensor("y", (1, 65536, 131072))
    g.operators = [Operator(tflite.BuiltinOperator.RESHAPE, [x], [y])]
    g.inputs, g.outputs = [x], [y]
    return g


def test_run_refuses_malformed_models_and_inputs_in_one_line(tmp_path: Path) -> None:
    """Issue 25: each of these was a traceback (ValueError, MemoryError, AttributeError, EOFError), or
    was imported and run (an opcode past its table, int8 activations as float32)."""
    negative, huge, past, int8 = (tmp_path / f"{name}.tflite" for name in ("negative", "huge", "past", "int8"))
    negative.write_bytes(write(fully_connected(input_shape=(1, -4))))
    huge.write_bytes(write(_huge_input_model()))
    past_table = fully_connected()
    past_table.operators[0].opcode_index = 2
    past.write_bytes(write(past_table))
    int8.write_bytes(write(fully_connected(bias_values=None, activation_type=tflite.TensorType.INT8)))
    model = str(MODELS_DIR / "ad01_fp32.tflite")
    np.savez(tmp_path / "x.npz", np.ones(640))
    (tmp_path / "empty.npy").write_bytes(b"")
    cases = {
        ("--model", str(negative)): "tensor 0 'x' has shape (1, -4): every dimension must be at least 1",
        ("--model", str(huge)): "the model input (1, 65536, 65536, 2) has 8,589,934,592 values",
        ("--model", str(past)): "operator 0: opcode index 2 is past the opcode table (1 entry)",
        ("--model", str(int8)): "tensor 0 'x' is int8 activations: full-integer (quantized) models are not supported",
        ("--model", str(MODELS_DIR / "ad01_int8.tflite")): "tensor 0 'input_1' is int8 activations",
        ("--model", model, "--input", str(tmp_path / "x.npz")): "x.npz: a .npz archive (arrays: arr_0), not a single",
        ("--model", model, "--input", str(tmp_path / "empty.npy")): "empty.npy: empty: not a .npy array",
        ("--model", model, "--input", "/dev/null"): "/dev/null: empty: not a .npy array",
    }
    for arguments, expected in cases.items():
        _one_error_line(run_invoke("run", *arguments, "--arch", "x86_64", "--toolchain", "host"), expected)


def test_repro_and_fuzz_refuse_bad_arguments_in_one_line(tmp_path: Path) -> None:
    _one_error_line(run_invoke("repro", str(tmp_path / "none.case"), "--arch", "riscv64@vlen3", "--toolchain", "host"),
                    "riscv64 has no variant riscv64@vlen3")
    _one_error_line(run_invoke("fuzz", "--arch", "riscv64", "--toolchain", "host"), "fuzzing = true")


def test_run_refuses_an_unknown_variant_in_one_line_listing_the_labels() -> None:
    """Issue 27: --arch takes a variant label, as repro does."""
    _one_error_line(run_invoke("run", "--model", str(MODELS_DIR / "ad01_fp32.tflite"), "--arch", "x86_64@avx3",
                               "--toolchain", "host"),
                    "x86_64 has no variant x86_64@avx3; it has x86_64@avx512, x86_64@avx2, x86_64@ref")


def _tasks_with_positional_arguments() -> list[str]:
    script = ("import tasks; print(' '.join(name for name in tasks.namespace.task_names "
              "if tasks.namespace[name].positional))")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_task_help_after_the_task_name_also_where_it_takes_positional_arguments() -> None:
    """Issue 27: invoke took `--help` as the first positional argument's value: `invoke new-arch --help` failed
    with "did not receive required positional arguments: 'triple'", `invoke repro --help` looked for a case
    file named --help (commands/task_help.py)."""
    positional = _tasks_with_positional_arguments()
    assert {"new-arch", "new-isa", "run", "repro", "debug", "bench.against"} <= set(positional)
    # -h too, where it is not a flag of the task's own (bench.against's -h is --threads, as invoke assigns them)
    for arguments in [(name, "--help") for name in positional] + [("new-arch", "-h"), ("repro", "-h")]:
        result = run_invoke(*arguments)
        assert result.returncode == 0 and result.stderr == "", (arguments, result.stderr)
        assert result.stdout.startswith(f"Usage: inv[oke] [--core-opts] {arguments[0]} [--options]"), arguments
    new_arch = run_invoke("new-arch", "ppc64le", "--help")  # one of its two positional arguments given
    assert new_arch.returncode == 0 and "--triple=STRING" in new_arch.stdout and "--machine=STRING" in new_arch.stdout
    missing = run_invoke("new-arch")
    assert missing.returncode == 1
    assert "'new-arch' did not receive required positional arguments: 'name', 'triple'" in missing.stderr

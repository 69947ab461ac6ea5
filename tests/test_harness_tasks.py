"""The invoke tasks, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys

from small_harness.targets import REPO_ROOT


def run_invoke(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "invoke", *arguments], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )


def test_unknown_arch_prints_one_error_line_and_exits_1() -> None:
    result = run_invoke("build", "--arch", "mips")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: unknown target 'mips'; known: aarch64 (arm64), armv7 (arm), riscv64 (riscv), x86_64 (x86), "
        "x86_64-avx512 (avx512), all"
    ]
    assert "Traceback" not in result.stdout + result.stderr


def test_build_then_elf_check_for_riscv64() -> None:
    built = run_invoke("build", "--arch", "riscv")
    assert built.returncode == 0, built.stderr
    assert "riscv64:" in built.stdout and "ELF checks passed" in built.stdout
    checked = run_invoke("elf-check", "--arch", "riscv64")
    assert checked.returncode == 0, checked.stderr
    assert "v1p0" in checked.stdout


def test_toolchain_check_describes_every_target() -> None:
    result = run_invoke("toolchain.check", "--arch", "all")
    assert result.returncode == 0, result.stderr
    for name in ("aarch64", "armv7", "riscv64", "x86_64"):
        assert f"{name} (host)" in result.stdout

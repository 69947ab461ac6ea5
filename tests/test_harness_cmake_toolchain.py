"""The committed toolchains/<name>.cmake files: in sync with the TOML, and usable without the harness."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from small_harness.cmake_toolchain import committed_toolchain_path, render_toolchain
from small_harness.targets import REPO_ROOT, load_targets

TARGET_NAMES = sorted(load_targets())


@pytest.mark.parametrize("name", TARGET_NAMES)
def test_committed_toolchain_file_matches_the_toml(name: str) -> None:
    target = load_targets()[name]
    committed = committed_toolchain_path(target)
    assert committed.is_file(), f"{committed} missing; run: invoke toolchain.cmake"
    assert committed.read_text() == render_toolchain(target), f"{committed} is stale; run: invoke toolchain.cmake"


def test_toolchain_file_says_it_is_generated() -> None:
    text = render_toolchain(load_targets()["armv7"])
    assert "Generated from toolchains/armv7.toml by `invoke toolchain.cmake`; do not edit by hand." in text


def test_cross_toolchain_sets_system_compiler_and_emulator() -> None:
    text = render_toolchain(load_targets()["riscv64"])
    for line in [
        'set(CMAKE_SYSTEM_NAME "Linux")',
        'set(CMAKE_SYSTEM_PROCESSOR "riscv64")',
        'set(CMAKE_C_COMPILER "clang-16")',
        'set(CMAKE_C_COMPILER_TARGET "riscv64-linux-gnu")',
        'set(CMAKE_C_FLAGS_INIT "-march=rv64gcv")',
        'set(CMAKE_FIND_ROOT_PATH "/usr/riscv64-linux-gnu")',
        'set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-riscv64;-cpu;'
        'rv64,v=true,vlen=128,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")',
        'set(SMALL_ISA "rvv" CACHE STRING',
    ]:
        assert line in text


def test_native_toolchain_is_not_a_cross_build() -> None:
    text = render_toolchain(load_targets()["x86_64"])
    assert "CMAKE_SYSTEM_NAME" not in text
    assert "CMAKE_CROSSCOMPILING_EMULATOR" not in text


def test_gcc_cross_toolchain_has_no_compiler_target() -> None:
    text = render_toolchain(load_targets()["armv7"])
    assert "CMAKE_C_COMPILER_TARGET" not in text
    assert 'set(CMAKE_C_FLAGS_INIT "-march=armv7-a -mfpu=neon -mfloat-abi=hard")' in text


def test_riscv64_builds_and_passes_ctest_without_the_harness(tmp_path: Path) -> None:
    """The documented no-harness flow; ctest runs the self-test under qemu-riscv64."""
    build_dir = tmp_path / "rv"
    toolchain = REPO_ROOT / "toolchains" / "riscv64.cmake"
    for argv in (
        ["cmake", "-S", str(REPO_ROOT), "-B", str(build_dir), "-G", "Ninja", f"-DCMAKE_TOOLCHAIN_FILE={toolchain}"],
        ["cmake", "--build", str(build_dir)],
        ["ctest", "--output-on-failure", "-V"],
    ):
        result = subprocess.run(argv, cwd=build_dir if argv[0] == "ctest" else REPO_ROOT,
                                capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    assert "qemu-riscv64" in result.stdout  # the test really went through the emulator
    assert "100% tests passed" in result.stdout

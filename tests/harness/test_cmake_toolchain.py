"""The committed toolchains/<name>.cmake files are in sync with the TOML files, and what they say.
(That they build and pass ctest without the harness is checked per target, in
tests/target/test_build.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from small_harness.generate.cmake_toolchain import committed_toolchain_path, render_toolchain
from small_harness.targets.toml_file import load_target
from small_harness.targets.registry import load_targets

TARGETS = load_targets(release=None)  # the committed files are the same on every Debian release
EXAMPLE = load_target(Path(__file__).parent / "data" / "toolchains" / "example-rv.toml", release=None)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_committed_toolchain_file_matches_the_toml(name: str) -> None:
    target = TARGETS[name]
    committed = committed_toolchain_path(target)
    assert committed.is_file(), f"{committed} missing; run: invoke toolchain.cmake"
    assert committed.read_text() == render_toolchain(target), f"{committed} is stale; run: invoke toolchain.cmake"


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_toolchain_file_says_it_is_generated(name: str) -> None:
    text = render_toolchain(TARGETS[name])
    assert f"Generated from toolchains/{name}.toml by `invoke toolchain.cmake`; do not edit by hand." in text


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_native_or_cross_build(name: str) -> None:
    target = TARGETS[name]
    text = render_toolchain(target)
    if target.is_native:
        assert "CMAKE_SYSTEM_NAME" not in text and "CMAKE_CROSSCOMPILING_EMULATOR" not in text
    elif target.is_bare_metal:
        assert 'set(CMAKE_SYSTEM_NAME "Generic")' in text and f'set(SMALL_BOARD "{name}")' in text
        assert "${CMAKE_SOURCE_DIR}/small_harness/toolchain/semihost_run.sh;qemu-system-arm;-M;" in text
    else:
        assert 'set(CMAKE_SYSTEM_NAME "Linux")' in text
        assert f'set(CMAKE_SYSTEM_PROCESSOR "{target.system_processor}")' in text
        assert "CMAKE_CROSSCOMPILING_EMULATOR" in text


def test_cross_toolchain_sets_system_compiler_and_emulator() -> None:
    text = render_toolchain(EXAMPLE)
    for line in [
        'set(CMAKE_SYSTEM_NAME "Linux")',
        'set(CMAKE_SYSTEM_PROCESSOR "riscv64")',
        "find_program(SMALL_C_COMPILER NAMES clang-16 clang-19 NO_CACHE)",
        'set(CMAKE_C_COMPILER "${SMALL_C_COMPILER}")',
        'set(CMAKE_C_COMPILER_TARGET "riscv64-linux-gnu")',
        'set(CMAKE_C_FLAGS_INIT "-march=rv64gcv")',
        'set(CMAKE_FIND_ROOT_PATH "/usr/riscv64-linux-gnu")',
        'set(CMAKE_CROSSCOMPILING_EMULATOR "qemu-riscv64;-cpu;'
        'rv64,v=true,vlen=128,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")',
        'set(SMALL_ISAS "rvv" CACHE STRING',
    ]:
        assert line in text


def test_every_vector_length_gets_a_ctest_variant() -> None:
    text = render_toolchain(EXAMPLE)
    assert 'set(SMALL_TEST_VARIANTS "vlen128;vlen256;vlen512;vlen1024")' in text
    assert ('set(SMALL_TEST_EMULATOR_vlen512 "qemu-riscv64;-cpu;'
            'rv64,v=true,vlen=512,rvv_ta_all_1s=true,rvv_ma_all_1s=true;-L;/usr/riscv64-linux-gnu")') in text


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_gcc_cross_toolchain_has_no_compiler_target(name: str) -> None:
    target = TARGETS[name]
    text = render_toolchain(target)
    assert ("CMAKE_C_COMPILER_TARGET" in text) == bool(target.compiler.target)
    assert f'set(CMAKE_C_FLAGS_INIT "{" ".join(target.compiler.flags)}")' in text


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_each_kernel_table_and_its_flags(name: str) -> None:
    target = TARGETS[name]
    text = render_toolchain(target)
    assert f'set(SMALL_ISAS "{";".join(isa.name for isa in target.simd_isas)}" CACHE STRING' in text
    for isa in target.simd_isas:
        assert f'set(SMALL_ISA_FLAGS_{isa.name} "{" ".join(isa.flags)}" CACHE STRING' in text
    for variant in target.variants() if len(target.variants()) > 1 else []:
        for key, value in variant.environment().items():
            assert f'set(SMALL_TEST_ENVIRONMENT_{variant.suffix} "{key}={value}")' in text

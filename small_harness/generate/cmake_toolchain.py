"""Renders the standard CMake toolchain file of a target from its TOML declaration.

The rendered files are committed as toolchains/<name>.cmake so the library builds without the
harness; a test keeps them in sync with the TOML files.
"""

from __future__ import annotations

from pathlib import Path

from small_harness.generate.linker_script import ram_defsym_flags, write_if_changed
from small_harness.core.errors import HarnessError
from small_harness.core.paths import relative
from small_harness.targets.types import SEMIHOST_RUN
from small_harness.targets.toml_file import DEFAULT_BACKEND
from small_harness.targets.registry import TOOLCHAINS_DIR
from small_harness.targets.types import Target, Variant


def ctest_name(target: Target, variant: Variant) -> str:
    """The self-test's name in ctest for one variant (see CMakeLists.txt)."""
    return f"selftest@{variant.suffix}" if len(target.variants()) > 1 else "selftest"


def committed_toolchain_path(target: Target) -> Path:
    return TOOLCHAINS_DIR / f"{target.name}.cmake"


def _quote(value: str) -> str:
    """A CMake quoted argument; escapes what CMake would otherwise interpret."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _set(variable: str, value: str) -> str:
    return f"set({variable} {_quote(value)})"


def _emulator_list(command: list[str]) -> str:
    """A CMake list argument of an emulator command; the semihosting bridge is named from the source
    tree, so the file is the same on every machine."""
    quoted = _quote(";".join(command))
    return quoted.replace(str(SEMIHOST_RUN), "${CMAKE_SOURCE_DIR}/" + relative(SEMIHOST_RUN))


def render_toolchain(target: Target) -> str:
    """The toolchain file text for `target` (as loaded for its backend)."""
    compiler = target.compiler
    lines = [
        f"# CMake toolchain file for {target.name}: {target.description}.",
        f"# Generated from toolchains/{target.name}.toml by `invoke toolchain.cmake`; do not edit by hand.",
        f"# Use: cmake -S . -B build -G Ninja -DCMAKE_TOOLCHAIN_FILE=toolchains/{target.name}.cmake",
        "",
    ]
    if target.is_native:
        # No CMAKE_SYSTEM_NAME: CMake then treats this as a native build and runs tests directly.
        lines.append("# Native build: tests run directly, without an emulator.")
    elif target.board is not None:
        lines += ["# Bare metal: CMakeLists.txt links with toolchains/<SMALL_BOARD>.ld and builds without threads.",
                  _set("CMAKE_SYSTEM_NAME", "Generic"), _set("CMAKE_SYSTEM_PROCESSOR", target.system_processor),
                  _set("CMAKE_TRY_COMPILE_TARGET_TYPE", "STATIC_LIBRARY"), _set("SMALL_BOARD", target.name),
                  _set("SMALL_TEST_LINK_FLAGS", " ".join(ram_defsym_flags(target.board)))]
    else:
        lines += [_set("CMAKE_SYSTEM_NAME", "Linux"), _set("CMAKE_SYSTEM_PROCESSOR", target.system_processor)]
    if compiler.alternatives:
        names = [compiler.cc, *compiler.alternatives]
        lines += [
            "# The compiler: the first of these that is installed (they differ between Debian releases).",
            f"find_program(SMALL_C_COMPILER NAMES {' '.join(names)} NO_CACHE)",
            "if(NOT SMALL_C_COMPILER)",
            f'  message(FATAL_ERROR "{target.name}: none of {", ".join(names)} is installed; '
            f'install one (apt-get install -y {compiler.cc})")',
            "endif()",
            'set(CMAKE_C_COMPILER "${SMALL_C_COMPILER}")',
        ]
    else:
        lines.append(_set("CMAKE_C_COMPILER", compiler.cc))
    if compiler.target:
        lines.append(_set("CMAKE_C_COMPILER_TARGET", compiler.target))
    lines.append(_set("CMAKE_C_FLAGS_INIT", " ".join(compiler.flags)))
    if compiler.release_flags:  # a cache entry: CMake would append its -O3 to an _INIT value
        lines.append(f'set(CMAKE_C_FLAGS_RELEASE {_quote(" ".join(compiler.release_flags))} CACHE STRING "")')
    if compiler.link_flags:
        link_flags = " ".join(compiler.link_flags)
        lines += [_set("CMAKE_EXE_LINKER_FLAGS_INIT", link_flags), _set("CMAKE_SHARED_LINKER_FLAGS_INIT", link_flags)]

    if compiler.sysroot:
        # Debian's cross packages are not a --sysroot layout (headers in <sysroot>/include, not
        # <sysroot>/usr/include) and the compilers already know where they are, so CMAKE_SYSROOT
        # would break them; only CMake's own find_* calls are pointed at the target files.
        lines += [
            "",
            _set("CMAKE_FIND_ROOT_PATH", compiler.sysroot),
            _set("CMAKE_FIND_ROOT_PATH_MODE_PROGRAM", "NEVER"),
            _set("CMAKE_FIND_ROOT_PATH_MODE_LIBRARY", "ONLY"),
            _set("CMAKE_FIND_ROOT_PATH_MODE_INCLUDE", "ONLY"),
            _set("CMAKE_FIND_ROOT_PATH_MODE_PACKAGE", "ONLY"),
        ]

    if target.emulator is not None:
        if target.board is not None:
            lines += ["", "# ctest and add_test() boot target binaries in QEMU system mode, with semihosting."]
        else:
            lines += ["", "# ctest and add_test() run target binaries through QEMU user mode."]
        lines.append(f"set(CMAKE_CROSSCOMPILING_EMULATOR {_emulator_list(target.emulator_command())})")
    variants = target.variants()
    if len(variants) > 1:
        lines += ["", "# ctest runs the self-test once per variant (selftest@<variant>): each kernel table (forced",
                  "# with SMALL_KERNELS when there are several) at each of its vector lengths."]
        lines.append(_set("SMALL_TEST_VARIANTS", ";".join(v.suffix for v in variants)))
        for variant in variants:
            lines.append(f"set(SMALL_TEST_EMULATOR_{variant.suffix} {_emulator_list(target.emulator_command(variant))})")
            environment = ";".join(f"{key}={value}" for key, value in variant.environment().items())
            if environment:
                lines.append(_set(f"SMALL_TEST_ENVIRONMENT_{variant.suffix}", environment))

    lines += ["", "# Kernel tables under arch/, best first (arch/ref's is always linked, last), and their flags;",
              "# -D on the command line overrides.",
              f'set(SMALL_ISAS {_quote(";".join(isa.name for isa in target.simd_isas))} CACHE STRING '
              '"Kernel tables under arch/, best first")']
    for isa in target.simd_isas:
        lines.append(f'set(SMALL_ISA_FLAGS_{isa.name} {_quote(" ".join(isa.flags))} CACHE STRING '
                     f'"Flags for arch/{isa.name}/")')
    return "\n".join(lines) + "\n"


def write_committed_toolchains(targets: list[Target]) -> list[Path]:
    """Rewrite toolchains/<name>.cmake for each target (loaded for the host with release=None, so
    that the file is the same on every machine); returns the files whose text changed."""
    changed = []
    for target in targets:
        if target.backend != DEFAULT_BACKEND:
            # The committed files are the no-harness host build; backends render their own.
            raise HarnessError(f"{target.name}: committed toolchain files come from the host backend")
        path = committed_toolchain_path(target)
        if write_if_changed(path, render_toolchain(target)):
            changed.append(path)
    return changed


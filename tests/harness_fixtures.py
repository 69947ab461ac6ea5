"""Helpers for the harness tests (tests/test_harness_*.py).

Plain functions rather than fixtures, so that conftest.py stays with the layer tests: builds are
cached per session, and small objects are compiled with the target's real cross compiler."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

from small_harness.backends import HostBackend
from small_harness.build import BuildResult, build
from small_harness.targets import Target, load_targets

# Compiles for every target: no #include, so no libc headers of another ABI are needed.
TINY_C_SOURCE = "int add(int a, int b) { return a + b; }\nfloat scale(float x) { return 2.0f * x; }\n"


def host_target(name: str) -> Target:
    return load_targets()[name]


@functools.cache
def built(name: str) -> BuildResult:
    """One (incremental) build per target per test session, in build/host/<name>/."""
    return build(host_target(name), HostBackend())


def compile_object(compiler_argv: list[str], directory: Path, stem: str) -> Path:
    """Compile TINY_C_SOURCE with `compiler_argv` (compiler and flags) into directory/stem.o."""
    source = directory / f"{stem}.c"
    source.write_text(TINY_C_SOURCE)
    output = directory / f"{stem}.o"
    subprocess.run([*compiler_argv, "-c", str(source), "-o", str(output)], check=True)
    return output

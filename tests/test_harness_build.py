"""Builds: one directory per backend and target, fast incremental rebuilds, readable failures."""

from __future__ import annotations

import dataclasses
import shutil
import time

import pytest
from harness_fixtures import built, host_target

from small_harness.build import build, build_dir_for
from small_harness.errors import BuildError, HarnessError
from small_harness.targets import REPO_ROOT


def test_build_dir_is_per_backend_and_target() -> None:
    result = built("riscv64")
    assert result.build_dir == REPO_ROOT / "build" / "host" / "riscv64"
    assert [p.name for p in result.artifacts] == ["libsmall.a", "small_runner", "small_selftest"]
    assert result.runner == result.build_dir / "small_runner"


def test_rebuild_without_changes_does_not_reconfigure_and_is_fast() -> None:
    built("armv7")
    started = time.monotonic()
    again = build(host_target("armv7"))
    assert not again.configured
    assert time.monotonic() - started < 10


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(HarnessError, match="backend 'docker' is not available"):
        build(host_target("x86_64"), backend="docker")


def test_compiler_failure_shows_command_and_output_tail() -> None:
    target = host_target("riscv64")
    broken = dataclasses.replace(
        target,
        name="riscv64-broken-flags",  # its own build dir, so the real one is untouched
        compiler=dataclasses.replace(target.compiler, flags=(*target.compiler.flags, "-mno-such-option")),
    )
    try:
        with pytest.raises(BuildError) as caught:
            build(broken)
    finally:
        shutil.rmtree(build_dir_for(broken), ignore_errors=True)
    assert str(caught.value).startswith("cmake -S ")
    assert "failed with exit code" in str(caught.value)
    details = caught.value.details.splitlines()
    assert 0 < len(details) <= 20
    assert any("-mno-such-option" in line for line in details)

"""Builds: one directory per backend and target, fast incremental rebuilds, readable failures."""

from __future__ import annotations

import dataclasses
import shutil

import pytest
from harness_fixtures import built, host_target

from small_harness.backends import HostBackend, select_backend
from small_harness.build import build, build_dir_for
from small_harness.errors import BuildError, HarnessError
from small_harness.targets import REPO_ROOT, load_targets


def test_build_dir_is_per_backend_and_target() -> None:
    result = built("riscv64")
    assert result.build_dir == REPO_ROOT / "build" / "host" / "riscv64"
    assert [p.name for p in result.artifacts] == ["libsmall.a", "small_runner", "small_selftest"]
    assert result.runner == result.build_dir / "small_runner"


def test_rebuild_without_changes_does_not_reconfigure() -> None:
    built("armv7")
    again = build(host_target("armv7"), HostBackend())
    assert not again.configured


def test_unknown_toolchain_is_refused_with_the_choices() -> None:
    with pytest.raises(HarnessError, match="unknown toolchain 'podman'; choose one of: auto, docker, host"):
        select_backend("podman")


def test_target_loaded_for_another_backend_is_refused() -> None:
    docker_target = load_targets(backend="docker")["x86_64"]
    with pytest.raises(HarnessError, match="loaded for the docker backend"):
        build(docker_target, HostBackend())


def test_compiler_failure_shows_command_and_output_tail() -> None:
    target = host_target("riscv64")
    broken = dataclasses.replace(
        target,
        name="riscv64-broken-flags",  # its own build dir, so the real one is untouched
        compiler=dataclasses.replace(target.compiler, flags=(*target.compiler.flags, "-mno-such-option")),
    )
    try:
        with pytest.raises(BuildError) as caught:
            build(broken, HostBackend())
    finally:
        shutil.rmtree(build_dir_for(broken), ignore_errors=True)
    assert str(caught.value).startswith("riscv64-broken-flags (host): cmake -S ")
    assert "failed with exit code" in str(caught.value)
    details = caught.value.details.splitlines()
    assert 0 < len(details) <= 20
    assert any("-mno-such-option" in line for line in details)

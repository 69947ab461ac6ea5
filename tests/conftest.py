"""Test parametrisation by target: `pytest --arch riscv64` (or a list, or `all`).

Each target gets one build and one long-lived runner process for the whole session, because
starting QEMU costs tens of milliseconds and the suite runs hundreds of cases per target.
"""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest

from small_harness.backends import Backend, select_backend
from small_harness.build import build
from small_harness.runner import Runner, RunnerInfo
from small_harness.targets import (Target, missing_cpu_flags, parse_variant_label, resolve_targets, select_vlens,
                                   variant_label)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("small", "SMaLL targets")
    group.addoption("--arch", default="x86_64", help="target(s): a name, an alias, a comma list, or 'all'")
    group.addoption("--toolchain", default="auto",
                    help="backend that builds and runs target code: auto (docker when an engine answers), docker, host")
    group.addoption("--vlen", default="all",
                    help="RISC-V vector lengths for QEMU: 'all' declared ones (default) or a comma list")
    group.addoption("--runner-command", default=None,
                    help="run this command as the runner instead of building one (e.g. on a device)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use a target run once per target variant: per target, and per vector length for
    targets that have them (riscv64@vlen128 ... riscv64@vlen1024)."""
    if "variant" in metafunc.fixturenames:
        spec = metafunc.config.getoption("vlen")
        labels = [variant_label(t, vlen) for t in resolve_targets(metafunc.config.getoption("arch"))
                  for vlen in select_vlens(t, spec)]
        metafunc.parametrize("variant", labels, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen, _ = select_backend(request.config.getoption("toolchain"))
    return chosen


@pytest.fixture(scope="session")
def variant(request: pytest.FixtureRequest) -> str:
    """The label of the target variant under test, e.g. riscv64@vlen256."""
    return str(request.param)


@pytest.fixture(scope="session")
def target(variant: str, backend: Backend) -> Target:
    (resolved,) = resolve_targets(parse_variant_label(variant)[0], backend=backend.name)
    return resolved


@pytest.fixture(scope="session")
def runner_command(request: pytest.FixtureRequest, variant: str, target: Target, backend: Backend) -> list[str]:
    override = request.config.getoption("runner_command")
    if override:
        return shlex.split(override)
    lacking = missing_cpu_flags(target)
    if lacking:
        pytest.skip(f"{target.name}: this CPU lacks {' '.join(lacking)}, which QEMU does not emulate; "
                    "the build and its ELF and FMA checks still ran")
    result = build(target, backend)
    return backend.runner_command(target, result.runner, parse_variant_label(variant)[1])


@pytest.fixture(scope="session")
def runner(runner_command: list[str]) -> Iterator[Runner]:
    with Runner(runner_command) as process:
        yield process


@pytest.fixture(scope="session")
def runner_info(runner: Runner) -> RunnerInfo:
    return runner.info()


QUARANTINE_FILE = Path(__file__).with_name("quarantine.toml")


@pytest.fixture(scope="session")
def quarantine_entries() -> list[dict[str, Any]]:
    with QUARANTINE_FILE.open("rb") as stream:
        return list(tomllib.load(stream)["quarantine"])


@pytest.fixture(scope="session")
def emulator_version(target: Target, backend: Backend) -> str | None:
    return backend.emulator_version(target)


@pytest.fixture(autouse=True)
def _quarantine(request: pytest.FixtureRequest, quarantine_entries: list[dict[str, Any]]) -> None:
    """Marks a test xfail(strict) when tests/quarantine.toml names it for this variant's QEMU."""
    if "variant" not in request.fixturenames or not quarantine_entries:
        return
    variant = request.getfixturevalue("variant")
    for entry in quarantine_entries:
        if entry["test"] in request.node.nodeid and (variant == entry["variant"] or
                                                     variant.startswith(entry["variant"] + "@")):
            version = request.getfixturevalue("emulator_version") or ""
            if any(version.startswith(prefix) for prefix in entry["qemu"]):
                request.applymarker(pytest.mark.xfail(reason=f"quarantined on QEMU {version}: {entry['bug']}",
                                                      strict=True))


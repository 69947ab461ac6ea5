"""Test parametrisation by target: `pytest --arch riscv64` (or a list, or `all`).

Each target gets one build and one long-lived runner process for the whole session, because
starting QEMU costs tens of milliseconds and the suite runs hundreds of cases per target.
"""

from __future__ import annotations

import shlex
from typing import Iterator

import pytest

from small_harness.backends import Backend, select_backend
from small_harness.build import build
from small_harness.runner import Runner, RunnerInfo
from small_harness.targets import Target, resolve_targets


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("small", "SMaLL targets")
    group.addoption("--arch", default="x86_64", help="target(s): a name, an alias, a comma list, or 'all'")
    group.addoption("--toolchain", default="auto",
                    help="backend that builds and runs target code: auto (docker when an engine answers), docker, host")
    group.addoption("--vlen", type=int, default=None, help="RISC-V vector length in bits for QEMU")
    group.addoption("--runner-command", default=None,
                    help="run this command as the runner instead of building one (e.g. on a device)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "target" in metafunc.fixturenames:
        names = [t.name for t in resolve_targets(metafunc.config.getoption("arch"))]
        metafunc.parametrize("target", names, indirect=True, scope="session")


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen, _ = select_backend(request.config.getoption("toolchain"))
    return chosen


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest, backend: Backend) -> Target:
    (resolved,) = resolve_targets(request.param, backend=backend.name)
    return resolved


@pytest.fixture(scope="session")
def runner_command(request: pytest.FixtureRequest, target: Target, backend: Backend) -> list[str]:
    override = request.config.getoption("runner_command")
    if override:
        return shlex.split(override)
    result = build(target, backend)
    command = target.emulator_command(request.config.getoption("vlen")) + [str(result.runner)]
    return backend.interactive_command(target, command)


@pytest.fixture(scope="session")
def runner(runner_command: list[str]) -> Iterator[Runner]:
    with Runner(runner_command) as process:
        yield process


@pytest.fixture(scope="session")
def runner_info(runner: Runner) -> RunnerInfo:
    return runner.info()

"""Two suites share these options: tests/target/ (per target variant: `pytest tests/target --arch
riscv64`, or a list, or `all`) and tests/harness/ (the harness's own tests, which build nothing).

Each target gets one build and one long-lived runner process for the whole session, because
starting QEMU costs tens of milliseconds and the suite runs hundreds of cases per target. Tests
marked `per_target` (the build and its ELF checks) run once per target, with its first declared
variant (when it is selected), rather than once per vector length.
"""

from __future__ import annotations

import shlex
import shutil
import tomllib
from pathlib import Path
from typing import Any, Iterator

import pytest

from small_harness.toolchain.backends import Backend, select_backend
from small_harness.build.cmake import BuildResult, build, build_dir_for
from small_harness.runner.launch import start_runner
from small_harness.runner.client import Runner, RunnerCrashed, RunnerInfo, exchange_deadline
from small_harness.targets.types import Target, Variant
from small_harness.targets.registry import missing_cpu_flags, resolve_targets, select_variants, variant_named


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("small", "SMaLL targets")
    group.addoption("--arch", default="native",
                    help="target(s): a name, an alias, a comma list, 'all', or 'native' (the default)")
    group.addoption("--toolchain", default="auto",
                    help="backend that builds and runs target code: auto (docker when an engine answers), docker, host")
    group.addoption("--variant", default="all",
                    help="variants: 'all' (default) or a comma list such as vlen256, avx2, sve-vlen512")
    group.addoption("--runner-command", default=None,
                    help="run this command as the runner instead of building one (e.g. on a device)")


NOT_SELECTED = "not-selected"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "per_target: runs once per target (its first variant), not per vector length")
    config.addinivalue_line("markers", "not_selected: a parameter set left empty by the selection; left out")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that use a target run once per target variant: each kernel table of a build, at each
    of its vector lengths (riscv64@vlen128 ... riscv64@vlen1024, x86_64@avx512, x86_64@avx2 ...)."""
    if "variant" in metafunc.fixturenames:
        spec = metafunc.config.getoption("variant")
        once = metafunc.definition.get_closest_marker("per_target") is not None
        labels = []
        for target in resolve_targets(metafunc.config.getoption("arch")):
            variants = select_variants(target, spec)
            if once:  # with the first variant, so that parallel CI jobs never run them twice
                variants = [v for v in variants if v == target.variants()[0]]
            labels += [variant.label for variant in variants]
        params = labels or [pytest.param(NOT_SELECTED, marks=pytest.mark.not_selected)]
        metafunc.parametrize("variant", params, indirect=True, scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A per_target test whose target's first variant is not selected (`--variant vlen256`) has no
    parameters: leave it out rather than report it as skipped."""
    left_out = [item for item in items if item.get_closest_marker("not_selected") is not None]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]


@pytest.fixture(scope="session")
def backend(request: pytest.FixtureRequest) -> Backend:
    chosen, _ = select_backend(request.config.getoption("toolchain"))
    return chosen


@pytest.fixture(scope="session")
def variant(request: pytest.FixtureRequest) -> str:
    """The label of the target variant under test, e.g. riscv64@vlen256."""
    return str(request.param)


@pytest.fixture(scope="session")
def target_variant(variant: str, backend: Backend) -> tuple[Target, Variant]:
    return variant_named(variant, backend=backend.name)


@pytest.fixture(scope="session")
def target(target_variant: tuple[Target, Variant]) -> Target:
    return target_variant[0]


@pytest.fixture(scope="session")
def build_result(target: Target, backend: Backend) -> BuildResult:
    """The target's build (incremental: once per session, in build/<toolchain>/<target>/)."""
    return build(target, backend)


@pytest.fixture
def scratch_dir(target: Target, backend: Backend, request: pytest.FixtureRequest) -> Path:
    """An empty directory inside the repository, so that a toolchain container sees it too."""
    path = build_dir_for(target, backend.name) / "scratch" / request.node.name.replace("/", "_")[:80]
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="session")
def runner_command(request: pytest.FixtureRequest, target_variant: tuple[Target, Variant], target: Target,
                   backend: Backend) -> list[str]:
    override = request.config.getoption("runner_command")
    if override:
        return shlex.split(override)
    chosen = target_variant[1]
    lacking = missing_cpu_flags(target, chosen)
    if lacking:
        pytest.skip(f"{chosen.label}: this CPU lacks {' '.join(lacking)}, which QEMU does not emulate; "
                    "the build and its ELF and FMA checks still ran")
    return backend.runner_command(target, build(target, backend).runner, chosen)


@pytest.fixture(scope="session")
def runner(request: pytest.FixtureRequest, runner_command: list[str], target_variant: tuple[Target, Variant],
           backend: Backend) -> Iterator[Runner]:
    """One long-lived runner per session; a crash or hang fails that case only, with a reproducer."""
    if request.config.getoption("runner_command"):
        process = Runner(runner_command, deadline_s=exchange_deadline(emulated=True))
    else:
        target, variant = target_variant
        process = start_runner(target, variant, backend, build(target, backend).runner)
    with process:
        yield process


@pytest.fixture(scope="session")
def runner_info(runner: Runner) -> RunnerInfo:
    return runner.info()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A crashed or hung runner is reported by its message (signal, layer, reproducer), not by a
    traceback through the harness."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.failed and call.excinfo is not None and call.excinfo.errisinstance(RunnerCrashed):
        report.longrepr = f"{item.nodeid}\n{call.excinfo.value}"


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


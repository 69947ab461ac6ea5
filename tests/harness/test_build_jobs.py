"""`--jobs N` of the tasks that build, and SMALL_BUILD_JOBS (issue 27): the one build command
(build/cmake.py) runs that many compile jobs, by default every CPU this process may use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from small_harness.build.cmake import ARTIFACT_NAMES, JOBS_ENV, build, build_jobs, set_build_jobs
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.registry import resolve_targets
from small_harness.targets.types import Target
from small_harness.toolchain.backends import Backend, CommandResult
from test_tasks import run_invoke


class _RecordingBackend(Backend):
    """Runs nothing: records each command, and leaves the artifacts a build would."""

    name = "host"

    def __init__(self, build_dir: Path):
        self.build_dir = build_dir
        self.commands: list[list[str]] = []

    def prepare(self, target: Target) -> str:
        return ""

    def run(self, target: Target, argv: list[str], cwd: Path) -> CommandResult:
        self.commands.append(argv)
        for name in ARTIFACT_NAMES:
            (self.build_dir / name).touch()
        return CommandResult(0, "")

    def interactive_command(self, target: Target, argv: list[str]) -> list[str]:
        return argv


def _build_command(tmp_path: Path) -> list[str]:
    (target,) = resolve_targets("x86_64", "host")
    backend = _RecordingBackend(tmp_path)
    build(target, backend, build_dir=tmp_path)
    (command,) = [argv for argv in backend.commands if argv[:2] == ["cmake", "--build"]]
    return command


def _without_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """SMALL_BUILD_JOBS unset, and as it was after the test (set_build_jobs writes os.environ itself)."""
    monkeypatch.setenv(JOBS_ENV, "")
    monkeypatch.delenv(JOBS_ENV)


def test_the_default_is_every_cpu_this_process_may_use(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_setting(monkeypatch)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 2, 5})
    assert build_jobs() == 3
    assert _build_command(tmp_path) == ["cmake", "--build", str(tmp_path), "--parallel", "3"]


def test_jobs_reach_the_build_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_setting(monkeypatch)
    set_build_jobs(0)  # --jobs left out: nothing set
    assert JOBS_ENV not in os.environ
    set_build_jobs(7)
    assert os.environ[JOBS_ENV] == "7"  # the processes it starts (the test suite's builds) inherit it
    assert _build_command(tmp_path)[-2:] == ["--parallel", "7"]
    monkeypatch.setenv(JOBS_ENV, " 2 ")
    assert _build_command(tmp_path)[-2:] == ["--parallel", "2"]


@pytest.mark.parametrize("text", ["0", "-1", "four", "1.5"])
def test_a_bad_setting_is_one_error(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv(JOBS_ENV, text)
    with pytest.raises(HarnessError, match=f"^{JOBS_ENV}='{text}': give a number of compile jobs of at least 1$"):
        build_jobs()
    with pytest.raises(HarnessError, match=r"^--jobs -2: give a number of compile jobs of at least 1 \(0: the "):
        set_build_jobs(-2)


BUILDING_TASKS = ("build", "test", "run", "size", "repro", "debug", "fuzz", "kernels", "bench.layers", "bench.models",
                  "bench.against", "bench.scaling", "bench.counts")


def test_every_task_that_builds_takes_jobs() -> None:
    script = ("import json, tasks; print(json.dumps({name: tasks.namespace[name].help.get('jobs', '') for name in "
              f"{BUILDING_TASKS!r}}}))")
    helps = json.loads(subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                                      check=True).stdout)
    assert [name for name, text in helps.items() if "SMALL_BUILD_JOBS" not in text] == []


def test_a_negative_jobs_is_one_error_line_before_anything_runs() -> None:
    result = run_invoke("build", "--jobs", "-3", "--arch", "x86_64", "--toolchain", "host")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == ["error: --jobs -3: give a number of compile jobs of at least 1 "
                                                  "(0: the default)"]
    result = run_invoke("run", "--help")
    assert result.returncode == 0 and "--jobs=INT" in result.stdout

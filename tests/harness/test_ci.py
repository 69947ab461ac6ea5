"""The CI matrix: its jobs follow toolchains/ (a new TOML file is a new job), JUnit files are counted
from their test cases, the GitHub workflow is generated from the same jobs, is in sync, and passes
a real linter that also rejects a broken copy; the clean room runs the README's own commands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from small_harness.ci import jobs as ci_module
from small_harness.ci.jobs import (CLEAN_ROOM_RELEASES, HARNESS_JOB, Counts, Job, JobResult, ci_jobs, failed_cases, format_table, junit_counts, select_jobs)
from small_harness.ci.clean_room import FAILURE_LINE, CommandOutcome, readme_commands, write_junit
from small_harness.core.errors import HarnessError
from small_harness.targets.registry import TOOLCHAINS_DIR, load_targets
from small_harness.generate.workflow import WORKFLOW_FILE, render_workflow

TARGETS = load_targets()
ACTIONLINT = Path(sys.executable).parent / "actionlint"


def test_one_job_per_target_variant_plus_fuzz_counts_harness_and_clean_room() -> None:
    names = [job.name for job in ci_jobs(list(TARGETS.values()))]
    variants = [v.label for t in TARGETS.values() for v in t.variants()]
    fuzzing = [f"fuzz-{t.name}" for t in TARGETS.values() if t.fuzzing]
    counting = [f"counts-{t.name}" for t in TARGETS.values() if t.counts is not None]
    assert fuzzing, "some target builds the fuzzers"
    assert {"counts-riscv64", "counts-armv7", "counts-aarch64"} <= set(counting)
    assert names == [HARNESS_JOB, *variants, *fuzzing, *counting,
                     *(f"clean-room-{release}" for release in CLEAN_ROOM_RELEASES)]


def test_a_counts_job_checks_with_the_host_toolchain() -> None:
    """The plugin is a host library for the host's qemu-user: the job never takes the docker backend."""
    jobs = [job for job in ci_jobs(list(TARGETS.values()), toolchain="docker") if job.kind == "counts"]
    assert jobs
    for job in jobs:
        assert job.invoke_args == ("bench.counts", "--arch", job.target, "--check", "--toolchain", "host",
                                   "--junit-dir", f"build/ci/{job.name}")


def test_a_copied_toml_is_one_more_job(tmp_path: Path) -> None:
    for file in TOOLCHAINS_DIR.glob("*.toml"):
        shutil.copy(file, tmp_path)
    original = next(iter(TARGETS.values()))
    text = original.source.read_text()
    text = re.sub(r'^name = ".*"$', 'name = "copy-of-it"', text, count=1, flags=re.M)
    (tmp_path / "copy-of-it.toml").write_text(re.sub(r"^aliases = \[.*\]$", "aliases = []", text, flags=re.M))
    before = ci_jobs(list(TARGETS.values()))
    after = ci_jobs(list(load_targets(directory=tmp_path).values()))
    new_jobs = [job.name for job in after if job not in before]
    counting = ["counts-copy-of-it"] if original.counts is not None else []
    assert new_jobs == [v.label.replace(original.name, "copy-of-it", 1) for v in original.variants()] + counting
    assert "copy-of-it" in render_workflow(list(load_targets(directory=tmp_path).values()))


def test_a_target_job_runs_invoke_test_for_its_variant() -> None:
    jobs = {job.name: job for job in ci_jobs(list(TARGETS.values()))}
    for target in TARGETS.values():
        for variant in target.variants():
            job = jobs[variant.label]
            assert job.invoke_args[:3] == ("test", "--arch", target.name)
            assert ("--variant" in job.invoke_args) == (len(target.variants()) > 1)
            assert job.invoke_args[-2:] == ("--junit-dir", f"build/ci/{job.name}")


def test_unknown_job_lists_the_jobs() -> None:
    with pytest.raises(HarnessError, match=f"unknown job 'nope'; jobs: {HARNESS_JOB}, "):
        select_jobs(ci_jobs(list(TARGETS.values())), "nope")


def test_junit_counts_match_a_real_pytest_run(tmp_path: Path) -> None:
    tests = tmp_path / "test_sample.py"
    tests.write_text("import pytest\n"
                     "def test_a(): pass\n"
                     "def test_b(): assert False\n"
                     "@pytest.mark.skip(reason='no')\ndef test_c(): pass\n"
                     "@pytest.mark.parametrize('x', [1, 2])\ndef test_d(x): pass\n"
                     "@pytest.fixture\ndef broken(): raise RuntimeError\n"
                     "def test_e(broken): pass\n")
    junit = tmp_path / "pytest.xml"
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tests),
                    f"--junitxml={junit}"], cwd=tmp_path, capture_output=True, check=False)
    assert junit_counts(junit) == Counts(cases=6, failed=2, skipped=1)


def test_junit_counts_read_ctest_status(tmp_path: Path) -> None:
    junit = tmp_path / "selftest.xml"
    junit.write_text('<?xml version="1.0"?><testsuite tests="2">'
                     '<testcase name="selftest@vlen128" status="run"/>'
                     '<testcase name="selftest@vlen256" status="fail"><failure message="Failed"/></testcase>'
                     '</testsuite>')
    assert junit_counts(junit) == Counts(cases=2, failed=1, skipped=0)


def test_a_broken_junit_file_is_one_clear_error(tmp_path: Path) -> None:
    junit = tmp_path / "pytest.xml"
    junit.write_text("<testsuite><testcase")
    with pytest.raises(HarnessError, match="not a readable JUnit XML file"):
        junit_counts(junit)


def test_table_has_a_row_per_job_totals_and_failed_logs() -> None:
    jobs = ci_jobs(list(TARGETS.values()))[:2]
    results = [JobResult(jobs[0], 0, 12.3, Counts(10, 0, 1)), JobResult(jobs[1], 1, 40.0, Counts(5, 2, 0))]
    table = format_table(results, 41.0).splitlines()
    assert table[0].split()[:6] == ["job", "cases", "passed", "failed", "skipped", "seconds"]
    assert table[2].split() == [jobs[0].name, "10", "9", "0", "1", "12"]
    assert table[3].split() == [jobs[1].name, "5", "3", "2", "0", "40", f"build/ci/{jobs[1].name}/log.txt"]
    assert table[-1].split() == ["all", "15", "12", "2", "1", "41"]


def test_committed_workflow_is_in_sync_with_the_tomls() -> None:
    assert WORKFLOW_FILE.is_file(), f"{WORKFLOW_FILE} missing; run: invoke ci.workflow"
    assert WORKFLOW_FILE.read_text() == render_workflow(list(TARGETS.values())), \
        f"{WORKFLOW_FILE} is stale; run: invoke ci.workflow"


def test_workflow_runs_each_job_with_the_local_command() -> None:
    text = render_workflow(list(TARGETS.values()))
    assert '.venv/bin/invoke ci --job "${{ matrix.job }}"' in text
    for job in ci_jobs(list(TARGETS.values())):
        assert f"- job: {job.name}" in text or f'--job "{job.name}"' in text
    assert "fail-fast: false" in text


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    assert ACTIONLINT.is_file(), "actionlint is installed with the harness (pip install -e .)"
    return subprocess.run([str(ACTIONLINT), "-no-color", str(path)], capture_output=True, text=True, check=False)


def test_workflow_passes_actionlint() -> None:
    result = _actionlint(WORKFLOW_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_rejects_a_broken_workflow(tmp_path: Path) -> None:
    """Proof that the linter lints: an undefined matrix property and an unknown action input."""
    broken = tmp_path / "ci.yml"
    broken.write_text(WORKFLOW_FILE.read_text()
                      .replace("${{ matrix.job }}", "${{ matrix.jobb }}", 1)
                      .replace("path: main\n", "path: main\n          no-such-input: 1\n", 1))
    result = _actionlint(broken)
    assert result.returncode == 1
    assert 'property "jobb" is not defined' in result.stdout
    assert 'input "no-such-input" is not defined' in result.stdout


def test_readme_quick_start_has_the_two_commands() -> None:
    main, tests = readme_commands()
    assert main.startswith("bash ci/setup.sh && ") and "invoke test --arch riscv" in main
    assert tests == "bash ci/setup.sh && .venv/bin/invoke ci"


def test_clean_room_junit_has_a_case_per_command(tmp_path: Path) -> None:
    junit = tmp_path / "clean-room.xml"
    write_junit(junit, [], skipped_reason="no Docker engine")
    assert junit_counts(junit) == Counts(cases=2, failed=0, skipped=2)


def test_a_failed_clean_room_says_which_inner_cases_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A clean room's log is not kept by CI, so its JUnit message must name what failed inside."""
    output = ["[  12 s] passed   armv7 (757 cases, 39 s)",
              "   riscv64@vlen128  641 cases run, 639 passed, 0 failed, 2 skipped",
              "C self-test riscv64@vlen128: kernels rvv ref: 19 passed, 0 failed",
              "[  40 s] FAILED   x86_64@avx512 (757 cases, 52 s)",
              "  x86_64@avx512: tests.target.test_threads::test_bits[4]: assert 1 == 0",
              "error: reproduce a failed job alone: invoke ci --job x86_64@avx512"]
    failures = tuple(line for line in output if FAILURE_LINE.search(line))
    assert failures == tuple(output[3:]), failures
    monkeypatch.setattr(ci_module, "CI_DIR", tmp_path)
    job = Job("clean-room-debian13", "clean-room", ("clean-room",))
    write_junit(job.directory / "clean-room.xml",
                [CommandOutcome("bash ci/setup.sh && .venv/bin/invoke ci", 1, 9.0, "\n".join(output), failures)])
    (reported,) = failed_cases(job)
    assert "exit 1: [  40 s] FAILED   x86_64@avx512" in reported, reported
    assert "test_threads::test_bits[4]: assert 1 == 0" in reported and "invoke ci --job x86_64@avx512" in reported

"""`invoke bench.against REV`, without timing anything: revisions, REV's exported tree,
the ratio's sense, and its errors (one line each)."""

from __future__ import annotations

import subprocess
import tarfile

import pytest

from small_harness.bench import against as bench_against
from small_harness.bench.against import Comparison, resolve_revision, revision_source
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from test_tasks import _one_error_line, run_invoke


def test_a_revision_resolves_to_its_commit_and_a_bad_one_is_one_clear_error() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True).stdout.strip()
    assert resolve_revision("HEAD") == head
    with pytest.raises(HarnessError, match="no-such-rev: not a commit of this repository"):
        resolve_revision("no-such-rev")


@pytest.mark.parametrize("python", ["3.11.4 and later", "3.11.2 (Debian 12: no extraction filters)"])
def test_revision_source_is_the_commit_s_tree_exported_once(tmp_path, monkeypatch: pytest.MonkeyPatch,
                                                           python: str) -> None:
    monkeypatch.setattr(bench_against, "AGAINST_DIR", tmp_path)
    if "no extraction filters" in python:  # as Python 3.11.2 is: no data_filter, no filter argument
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
        extract = tarfile.TarFile.extractall

        def extractall_of_3_11_2(self: tarfile.TarFile, path: str = ".", members: object = None, *,
                                 numeric_owner: bool = False, **unknown: object) -> None:
            if unknown:
                raise TypeError(f"TarFile.extractall() got an unexpected keyword argument {next(iter(unknown))!r}")
            extract(self, path, members, numeric_owner=numeric_owner)

        monkeypatch.setattr(tarfile.TarFile, "extractall", extractall_of_3_11_2)
    commit = resolve_revision("HEAD")
    source = revision_source(commit)
    assert source == tmp_path / commit[:12] / "src"
    committed = subprocess.run(["git", "show", f"{commit}:lib/src/model.c"], cwd=REPO_ROOT, capture_output=True,
                               text=True).stdout
    assert (source / "lib" / "src" / "model.c").read_text() == committed
    (source / "marker").write_text("kept")
    assert revision_source(commit) == source and (source / "marker").is_file(), "exported again"


def test_the_ratio_is_the_median_of_the_rounds_ratios() -> None:
    """Rounds, not medians of each side: a round where the machine was slow counts once, for both."""
    c = Comparison("m", 1, ours_ns=(90.0, 180.0, 95.0, 300.0), theirs_ns=(100.0, 200.0, 100.0, 250.0))
    assert c.ratio == pytest.approx((0.9 + 0.95) / 2)
    assert c.ours_ms == pytest.approx(137.5e-6) and c.theirs_ms == pytest.approx(150e-6)
    assert c.spread == (pytest.approx(0.9), pytest.approx(1.2))


def test_an_unknown_revision_is_one_error_line() -> None:
    _one_error_line(run_invoke("bench.against", "no-such-rev"), "no-such-rev: not a commit of this repository")

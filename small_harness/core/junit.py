"""The one JUnit XML writer: the harness's own jobs (counts, fuzz, clean room) report as pytest and
ctest do, so that `invoke ci` reads every job's outcome the same way (ci/jobs.py: junit_counts)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

from small_harness.core.files import write_atomically


@dataclass(frozen=True)
class JunitCase:
    name: str
    seconds: float | None = None
    failure: str = ""  # a one-line message: the case failed
    details: str = ""  # the failure's text
    skipped: str = ""  # why the case did not run


def write_junit(path: Path, suite_name: str, cases: list[JunitCase]) -> Path:
    """One <testsuite> of `cases`, written whole (UTF-8) to path; its folder is made."""
    suite = ElementTree.Element("testsuite", name=suite_name, tests=str(len(cases)))
    for case in cases:
        element = ElementTree.SubElement(suite, "testcase", classname=suite_name, name=case.name)
        if case.seconds is not None:
            element.set("time", f"{case.seconds:.1f}")
        if case.skipped:
            ElementTree.SubElement(element, "skipped", message=case.skipped)
        elif case.failure:
            ElementTree.SubElement(element, "failure", message=case.failure).text = case.details or None
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda file: ElementTree.ElementTree(suite).write(file, encoding="utf-8",
                                                                             xml_declaration=True))
    return path

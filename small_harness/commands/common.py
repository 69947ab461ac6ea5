"""What several commands do alike: choosing the backend and saying which, and listing ELF reports."""

from __future__ import annotations

from small_harness.build.elf import ElfReport
from small_harness.toolchain.backends import Backend, select_backend


def chosen_backend(toolchain: str) -> Backend:
    """Selects the backend and says which, and why, as the first line of output."""
    backend, why = select_backend(toolchain)
    print(f"toolchain: {backend.name} ({why})", flush=True)
    return backend


def print_reports(reports: list[ElfReport]) -> None:
    """One line per artifact; an archive's members are summarised on its line."""
    by_artifact: dict[str, list[ElfReport]] = {}
    for report in reports:
        by_artifact.setdefault(report.name.split("(")[0], []).append(report)
    for artifact, artifact_reports in by_artifact.items():
        summaries = sorted({report.summary() for report in artifact_reports})
        members = f" ({len(artifact_reports)} objects)" if "(" in artifact_reports[0].name else ""
        print(f"  {artifact}{members}: {'; '.join(summaries)}")

"""What several commands do alike: choosing the backend and saying which, the compile jobs of the builds
they make, and listing ELF reports."""

from __future__ import annotations

from small_harness.build.cmake import set_build_jobs
from small_harness.build.elf import ElfReport
from small_harness.targets.types import Target
from small_harness.toolchain.backends import Backend, select_backend
from small_harness.toolchain.host import no_host_toolchain


def chosen_backend(toolchain: str) -> Backend:
    """Selects the backend and says which, and why, as the first line of output."""
    backend, why = select_backend(toolchain)
    print(f"toolchain: {backend.name} ({why})", flush=True)
    return backend


def use_build_jobs(jobs: int) -> None:
    """--jobs N of a task that builds: N compile jobs at once in its builds (0: SMALL_BUILD_JOBS, else every
    CPU this process may use; build/cmake.py)."""
    set_build_jobs(jobs)


def usable_targets(targets: list[Target], backend: Backend) -> list[Target]:
    """Of several targets under the host backend, those this Debian release has a host toolchain for; each
    other is skipped with one line naming its route (Docker). A target named alone is kept, so that its
    build says the same as an error."""
    if backend.name != "host" or len(targets) < 2:
        return targets
    for target in targets:
        if target.host_unavailable:
            print(f"skipped {no_host_toolchain(target)}", flush=True)
    return [target for target in targets if not target.host_unavailable]


def print_reports(reports: list[ElfReport]) -> None:
    """One line per artifact; an archive's members are summarised on its line."""
    by_artifact: dict[str, list[ElfReport]] = {}
    for report in reports:
        by_artifact.setdefault(report.name.split("(")[0], []).append(report)
    for artifact, artifact_reports in by_artifact.items():
        summaries = sorted({report.summary() for report in artifact_reports})
        members = f" ({len(artifact_reports)} objects)" if "(" in artifact_reports[0].name else ""
        print(f"  {artifact}{members}: {'; '.join(summaries)}")

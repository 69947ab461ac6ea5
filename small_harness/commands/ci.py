"""`invoke ci`, `invoke ci.workflow` and `invoke clean-room`: the matrix run locally, its generated
GitHub workflow, and the README's commands in a clean Debian container."""

from __future__ import annotations

import os
import time
from pathlib import Path

from small_harness.ci.clean_room import run_clean_room
from small_harness.ci.clean_room import write_junit as write_clean_room_junit
from small_harness.ci.jobs import CI_DIR, CLEAN_ROOM_ENV, ci_jobs, failed_cases, format_table, reproduce_hint
from small_harness.ci.jobs import Job, JobResult, job_counts, run_jobs, select_jobs
from small_harness.core.errors import HarnessError
from small_harness.core.junit import JunitCase, write_junit
from small_harness.core.paths import relative
from small_harness.generate.files import regenerate
from small_harness.generate.workflow import WORKFLOW_FILE, write_workflow
from small_harness.targets.registry import load_targets
from small_harness.targets.types import Target
from small_harness.toolchain.docker.engine import DockerUnavailable, connect_working
from small_harness.toolchain.docker.images import load_images, save_images
from small_harness.toolchain.host import no_host_toolchain


def _generated_files_current() -> None:
    """toolchains/*.cmake, the GitHub workflow and the README's target table follow the TOML files.
    Locally they are regenerated (a new toolchains/<name>.toml becomes a job at once; commit what
    changed); in CI (CI set) they are checked as committed, and the harness job's sync tests fail if
    they are stale."""
    if os.environ.get("CI"):
        print("generated files: checked as committed (CI is set)")
        return
    changed = [relative(path) for path in regenerate()]
    if changed:
        print(f"generated files: regenerated {', '.join(changed)} from toolchains/*.toml (commit them)")


def ci_run(job: str, parallel: int, toolchain: str, image_cache: str, list_jobs: bool, timeout: int) -> None:
    targets = load_targets()
    jobs = ci_jobs(list(targets.values()), toolchain)
    if os.environ.get(CLEAN_ROOM_ENV):
        print("clean-room jobs: not run, this is a clean room already")
        jobs = [j for j in jobs if j.kind != "clean-room"]
    jobs = select_jobs(jobs, job)
    if list_jobs:
        for one in jobs:
            print(f"{one.name:20} invoke {' '.join(one.invoke_args)}")
        return
    _generated_files_current()
    cache = Path(image_cache).expanduser() if image_cache else None
    if cache is not None and load_images(cache):
        print(f"image cache: loaded {relative(cache / 'images.tar')}")
    started = time.monotonic()
    print(f"ci: {len(jobs)} jobs, {parallel or os.cpu_count()} at a time; logs and JUnit in {relative(CI_DIR)}/",
          flush=True)
    skipped = _jobs_without_a_toolchain(jobs, targets, toolchain)
    results = skipped + run_jobs([j for j in jobs if j not in {r.job for r in skipped}], targets,
                                 parallel or os.cpu_count() or 1, timeout)
    print("\n" + format_table(results, time.monotonic() - started))
    for result in results:
        for line in ([] if result.ok else failed_cases(result.job)):
            print(f"  {result.job.name}: {line}")
    if cache is not None:
        _save_image_cache(cache, [targets[r.job.target] for r in results if r.job.target])
    hint = reproduce_hint(results)
    if hint:
        raise HarnessError(hint)


def _jobs_without_a_toolchain(jobs: list[Job], targets: dict[str, Target], toolchain: str) -> list[JobResult]:
    """The jobs of targets this Debian release has no host toolchain for, where they would run with the
    host's (--toolchain host, auto without a working Docker engine, and the counts jobs, which always
    do): each is reported skipped, with the line naming its route, instead of failing."""
    host_everywhere = toolchain == "host"
    if toolchain == "auto" and any(job.target and targets[job.target].host_unavailable for job in jobs):
        try:
            connect_working()
        except (DockerUnavailable, HarnessError):
            host_everywhere = True
    results = []
    for job in jobs:
        target = targets.get(job.target or "")
        if target is None or not target.host_unavailable or not (host_everywhere or job.kind == "counts"):
            continue
        reason = no_host_toolchain(target)
        print(f"skipped  {job.name}: {reason}", flush=True)
        for stale in job.directory.glob("*.xml"):
            stale.unlink()
        write_junit(job.directory / "skipped.xml", job.name, [JunitCase(job.name, skipped=reason)])
        results.append(JobResult(job, 0, 0.0, job_counts(job)))
    return results


def _save_image_cache(cache: Path, targets: list[Target]) -> None:
    try:
        client = connect_working()
    except HarnessError:
        return
    for target in targets:
        saved = save_images(client, load_targets(backend="docker")[target.name], cache)
        if saved:
            print(f"image cache: saved {', '.join(saved)} to {relative(cache / 'images.tar')}")


def workflow() -> None:
    changed = write_workflow(list(load_targets().values()))
    print(f"{'wrote' if changed else 'up to date:'} {relative(WORKFLOW_FILE)}")


def clean_room(release: str, junit_dir: Path | None, fresh: bool) -> None:
    junit = junit_dir / "clean-room.xml" if junit_dir else None
    try:
        passed = run_clean_room(junit, release, fresh)
    except DockerUnavailable as error:
        if junit is not None:
            write_clean_room_junit(junit, [], skipped_reason=error.reason)
        if os.environ.get("CI"):
            raise HarnessError(f"the clean-room job needs a Docker engine that runs containers: {error.reason}")
        print(f"clean room: skipped, {error.reason}")
        return
    if not passed:
        raise HarnessError("a README command failed in the clean room (see above)")

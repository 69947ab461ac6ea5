"""The GitHub Actions workflow (.github/workflows/ci.yml), generated from the same job list as
`invoke ci` (ci.py), so that both run the same jobs with the same command: a job on GitHub runs
`invoke ci --job NAME`, and a failure there reproduces here with that command.

- harness: the harness's own tests.
- target: a matrix over every target variant, fuzz job and instruction-count job, fail-fast off; the Docker toolchain images are kept
  in the Actions cache (docker save / load) under a key made of the files they are built from.
- clean-room-debian12, -debian13: the README's commands in a clean Debian container.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from small_harness.core.paths import relative
from small_harness.ci.jobs import CI_DIR, Job, ci_jobs
from small_harness.models.mlperf_tiny import MODEL_FILES
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target

WORKFLOW_FILE = REPO_ROOT / ".github" / "workflows" / "ci.yml"
RUNNER = "ubuntu-24.04"
IMAGE_CACHE = "~/.cache/small-images"
CHECKOUT, CACHE, UPLOAD = "actions/checkout@v5", "actions/cache@v5", "actions/upload-artifact@v6"
# The MLPerf Tiny models are not part of this repository (they sit in ../shared beside it): fetch
# them from their source, mlcommons/tiny, and put them where the tests look.
MODELS_REPOSITORY = "mlcommons/tiny"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    plain = text and all(ch.isalnum() or ch in "-_./@ ${}()'=,*\"~" for ch in text) and not text[0] in "-@*{ " \
        and text not in ("true", "false", "null", "on", "off", "yes", "no") and not text.replace(".", "").isdigit()
    return text if plain else json.dumps(text)


def _emit(value: Any, indent: int) -> list[str]:
    pad = "  " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, str) and "\n" in item:
                lines.append(f"{pad}{key}: |")
                lines += [f"{pad}  {line}" if line else "" for line in item.rstrip("\n").split("\n")]
            elif isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{key}:")
                lines += _emit(item, indent + 1)
            elif isinstance(item, dict):
                lines.append(f"{pad}{key}: {{}}")
            else:
                lines.append(f"{pad}{key}: {_scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                inner = _emit(item, indent + 1)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _common_steps(setup_arch: str) -> list[dict[str, Any]]:
    models = " ".join(MODEL_FILES)
    return [
        {"uses": CHECKOUT, "with": {"path": "main"}},
        {"name": "MLPerf Tiny models into ../shared", "uses": CHECKOUT,
         "with": {"repository": MODELS_REPOSITORY, "path": "tiny", "sparse-checkout": "benchmark/training"}},
        {"name": "place the models", "run":
            "mkdir -p shared/models/mlperf-tiny\n"
            f"for model in {models}; do\n"
            "  found=$(find tiny -name \"$model\" | head -n 1)\n"
            "  if [ -n \"$found\" ]; then cp \"$found\" shared/models/mlperf-tiny/; "
            "else echo \"::warning::$model not found in mlcommons/tiny\"; fi\n"
            "done\n"},
        {"name": "set up (ci/setup.sh)", "working-directory": "main", "run": f"bash ci/setup.sh --arch {setup_arch}"},
    ]


def _upload_step(name_expression: str) -> dict[str, Any]:
    return {"name": "JUnit files and logs", "if": "always()", "uses": UPLOAD,
            "with": {"name": f"ci-{name_expression}", "path": f"main/{relative(CI_DIR)}/"}}


def _run_step(job_expression: str, extra: str = "") -> dict[str, Any]:
    return {"name": "invoke ci (reproduce locally with the command in the log)", "working-directory": "main",
            "run": f".venv/bin/invoke ci --job \"{job_expression}\"{extra}"}


def _target_matrix(jobs: list[Job]) -> list[dict[str, str]]:
    return [{"job": job.name, "target": job.target or ""} for job in jobs if job.kind in ("target", "fuzz", "counts")]


def workflow(targets: list[Target]) -> dict[str, Any]:
    jobs = ci_jobs(targets)
    harness = next(job for job in jobs if job.kind == "harness")
    clean_rooms = [job for job in jobs if job.kind == "clean-room"]
    image_key = ("small-images-${{ matrix.job }}-${{ hashFiles('main/docker/toolchain.Dockerfile', "
                 "format('main/toolchains/{0}.toml', matrix.target)) }}")
    return {
        "name": "ci",
        "on": {"push": {}, "pull_request": {}, "workflow_dispatch": {}},
        "permissions": {"contents": "read"},
        "jobs": {
            harness.name: {
                "runs-on": RUNNER,
                "steps": [*_common_steps("none"), _run_step(harness.name), _upload_step(harness.name)],
            },
            "target": {
                "name": "${{ matrix.job }}",
                "runs-on": RUNNER,
                "strategy": {"fail-fast": False, "matrix": {"include": _target_matrix(jobs)}},
                "steps": [
                    *_common_steps("${{ matrix.target }}"),
                    {"name": "Docker toolchain images, by the files they are built from", "uses": CACHE,
                     "with": {"path": IMAGE_CACHE, "key": image_key}},
                    _run_step("${{ matrix.job }}", f" --image-cache {IMAGE_CACHE}"),
                    _upload_step("${{ matrix.job }}"),
                ],
            },
            **{job.name: {"runs-on": RUNNER,
                          "steps": [*_common_steps("none"), _run_step(job.name), _upload_step(job.name)]}
               for job in clean_rooms},
        },
    }


def render_workflow(targets: list[Target]) -> str:
    header = ["# Generated from toolchains/*.toml by `invoke ci.workflow` (small_harness/generate/workflow.py); do not edit.",
              "# Each job runs `invoke ci --job NAME`, exactly what `invoke ci` runs for it locally."]
    return "\n".join(header + _emit(workflow(targets), 0)) + "\n"


def write_workflow(targets: list[Target], path: Path = WORKFLOW_FILE) -> bool:
    """Writes the workflow; True if its text changed."""
    text = render_workflow(targets)
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True

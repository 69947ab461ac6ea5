"""A new ISA is its TOML and its arch/ folder, nothing else: in a copy of this checkout, one of the native
target's kernel tables is copied under a new name (arch/<isa>twin/, its SIMD_ISA renamed) and declared by
a new target TOML with that one kernel_isas entry; `invoke generate` and the target suite then run in the
copy, unedited elsewhere. A list of ISAs anywhere in lib/, tests/ or small_harness/ (the Winograd tables,
the kinds a table offers, its tiles) fails here. The copy goes away with the test's temporary folder."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from small_harness.core.paths import REPO_ROOT
from small_harness.models.mlperf_tiny import MODELS_DIR
from small_harness.targets.registry import load_targets, missing_cpu_flags, native_target
from small_harness.targets.types import Target


def _runnable_table(target: Target) -> str | None:
    """The first SIMD table of the native target that this CPU runs."""
    for variant in target.variants():
        if variant.isa in {isa.name for isa in target.simd_isas} and not missing_cpu_flags(target, variant):
            return variant.isa
    return None


def _copy_checkout(into: Path) -> None:
    """The files git tracks or would track (the working tree as it is, uncommitted changes included)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)


def _twin_toml(text: str, target: str, isa: str, twin: str) -> str:
    """The target's TOML as a new target whose only table is the twin: its name, no aliases, kernel_isas
    naming the twin, the table's [isa.<isa>] renamed and the other tables' [isa.*] dropped."""
    blocks = re.split(r"(?m)^(?=\[)", text)
    kept = [block for block in blocks if not block.startswith("[isa.") or block.startswith(f"[isa.{isa}]")]
    text = "".join(kept).replace(f"[isa.{isa}]", f"[isa.{twin}]", 1)
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{target}"', text, count=1)
    text = re.sub(r"(?m)^aliases = \[.*\]$", "aliases = []", text, count=1)
    text = re.sub(r"(?m)^kernel_isas = \[.*\]$", f'kernel_isas = ["{twin}"]', text, count=1)
    return re.sub(r"(?m)^fallback_cpu = .*\n", "", text)


def test_a_copied_table_under_a_new_name_passes_the_suite_with_no_other_edit(tmp_path: Path) -> None:
    native = native_target(load_targets())
    isa = _runnable_table(native)
    if isa is None:
        pytest.skip(f"this CPU runs none of {native.name}'s SIMD tables natively")
    twin, name = f"{isa}twin", f"{native.name}-twin"
    checkout = tmp_path / "checkout"
    _copy_checkout(checkout)
    folder = checkout / "arch" / twin
    shutil.copytree(checkout / "arch" / isa, folder)
    renamed = 0
    for source in folder.iterdir():
        text = source.read_text()
        new = re.sub(rf"(?m)^#define (SIMD|VLA)_ISA {isa}$", rf"#define \1_ISA {twin}", text)
        renamed += new != text
        source.write_text(new)
    assert renamed == 1, f"arch/{isa}/ names its table in one #define SIMD_ISA or VLA_ISA line"
    (checkout / "toolchains" / f"{name}.toml").write_text(
        _twin_toml(native.source.read_text(), name, isa, twin))

    # The copy's own harness (PYTHONPATH before the editable install), the models where they are.
    environment = {**os.environ, "PYTHONPATH": str(checkout), "SMALL_MODELS_DIR": str(MODELS_DIR)}
    environment.pop("CI", None)  # `invoke generate` writes the generated files; CI only checks them

    def invoke(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "invoke", *args], cwd=checkout, env=environment, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=900)

    generated = invoke("generate")
    assert generated.returncode == 0, generated.stdout
    tested = invoke("test", "--arch", name, "--toolchain", "host", "--jobs", str(len(os.sched_getaffinity(0))))
    # the suite's summary line: its own tests required the twin's kernels to serve (test_kernels.py)
    ran = re.search(rf"^\s+{re.escape(name)}\s+(\d+) cases run, (\d+) passed, (\d+) failed", tested.stdout, re.M)
    assert tested.returncode == 0 and ran, tested.stdout[-4000:]
    assert int(ran.group(3)) == 0 and int(ran.group(2)) > 100, ran.group(0)
    assert (checkout / "build" / "host" / name).is_dir(), "the copy built itself, not this checkout"

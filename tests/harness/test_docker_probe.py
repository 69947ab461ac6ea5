"""The Docker probe's program is a real static executable; where an engine answers, the probe
says whether it can run containers (and `auto` falls back to the host toolchains when not)."""

from __future__ import annotations

import io
import platform
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from small_harness.toolchain.docker.engine import DockerUnavailable, connect
from small_harness.toolchain.docker.probe import exit0_elf, probe_engine


@pytest.mark.parametrize(("architecture", "machine"), [("x86_64", "EM_X86_64"), ("aarch64", "EM_AARCH64")])
def test_probe_program_is_a_static_executable(architecture: str, machine: str) -> None:
    data = exit0_elf(architecture)
    assert data is not None and len(data) < 200
    elf = ELFFile(io.BytesIO(data))
    assert (elf["e_type"], elf["e_machine"], elf.elfclass) == ("ET_EXEC", machine, 64)
    (segment,) = list(elf.iter_segments())
    assert segment["p_type"] == "PT_LOAD" and segment["p_offset"] <= elf["e_entry"] - segment["p_vaddr"] < len(data)


def test_probe_program_exits_0_here(tmp_path: Path) -> None:
    data = exit0_elf(platform.machine())
    if data is None:
        pytest.skip(f"no probe program for {platform.machine()}")
    path = tmp_path / "exit0"
    path.write_bytes(data)
    path.chmod(0o755)
    assert subprocess.run([str(path)], check=False).returncode == 0


def test_no_probe_for_other_architectures() -> None:
    assert exit0_elf("s390x") is None


def test_probe_runs_a_container_where_an_engine_answers() -> None:
    try:
        client = connect()
    except DockerUnavailable as error:
        pytest.skip(f"no Docker engine here: {error.reason}")
    why = probe_engine(client)
    # Either it ran, or it says why in one line.
    assert why is None or ("\n" not in why and why)

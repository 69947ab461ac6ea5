"""Can this Docker engine really make images and run containers? An engine can answer pings and
still fail at both: in an unprivileged container or a locked-down CI runner, dockerd starts, then
every layer extraction or container start dies with "operation not permitted". The probe imports
an image holding one 150-byte static program that exits 0 and runs it: a second or less, where
a toolchain image would copy gigabytes first."""

from __future__ import annotations

import io
import re
import struct
import tarfile

import docker
from docker.errors import DockerException

PROBE_IMAGE = "small-probe:1"
PROBE_PROGRAM = "/exit0"
_LOAD_ADDRESS = 0x400000
_HEADER_SIZE, _PROGRAM_HEADER_SIZE = 64, 56

# exit(0) as raw machine code, by the engine's architecture (`docker info`).
_EXIT0_CODE = {
    # xor edi, edi; mov eax, 60 (exit); syscall
    "x86_64": (62, bytes.fromhex("31ffb83c0000000f05")),
    # movz x0, #0; movz x8, #93 (exit); svc #0
    "aarch64": (183, struct.pack("<3I", 0xD2800000, 0xD2800BA8, 0xD4000001)),
}


def exit0_elf(architecture: str) -> bytes | None:
    """A static ELF64 executable that exits 0, for an engine architecture; None for others."""
    if architecture not in _EXIT0_CODE:
        return None
    machine, code = _EXIT0_CODE[architecture]
    entry = _LOAD_ADDRESS + _HEADER_SIZE + _PROGRAM_HEADER_SIZE
    size = _HEADER_SIZE + _PROGRAM_HEADER_SIZE + len(code)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, version 1, SysV
    header = struct.pack("<16sHHIQQQIHHHHHH", ident, 2, machine, 1, entry, _HEADER_SIZE, 0, 0, _HEADER_SIZE,
                         _PROGRAM_HEADER_SIZE, 1, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, _LOAD_ADDRESS, _LOAD_ADDRESS, size, size, 0x1000)  # PT_LOAD, R+X
    return header + load + code


def _image_tar(program: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(PROBE_PROGRAM.lstrip("/"))
        info.size, info.mode = len(program), 0o755
        archive.addfile(info, io.BytesIO(program))
    return buffer.getvalue()


def _first_line(error: Exception) -> str:
    text = str(getattr(error, "explanation", None) or error).strip()
    if not text:
        return type(error).__name__
    # "ApplyLayer exit status 1 stdout:  stderr: Error creating mount namespace ...": keep the error.
    line = re.sub(r"^.*?\bstderr:\s*", "", text.splitlines()[0])
    return " ".join(line.split())[:200]


def probe_engine(client: docker.DockerClient) -> str | None:
    """None when the engine can import an image and run a container from it; else why not, in
    one line. Engines of architectures without a probe program are taken as working."""
    try:
        program = exit0_elf(str(client.info().get("Architecture", "")))
        if program is None:
            return None
        try:
            client.images.get(PROBE_IMAGE)
        except docker.errors.ImageNotFound:
            repository, tag = PROBE_IMAGE.split(":")
            client.api.import_image_from_data(_image_tar(program), repository=repository, tag=tag)
            client.images.get(PROBE_IMAGE)  # an import that failed quietly leaves no image
        container = client.containers.run(PROBE_IMAGE, [PROBE_PROGRAM], detach=True, network_disabled=True)
        try:
            code = int(container.wait(timeout=60)["StatusCode"])
        finally:
            container.remove(force=True)
        return None if code == 0 else f"a probe container exited with status {code}"
    except (DockerException, OSError) as error:
        return _first_line(error)

"""Offline base images: a Debian release made with debootstrap from the apt mirror this machine
already uses, then `docker import`ed. For machines that reach a Debian mirror but no registry:
trixie under the toolchain images, bookworm for the clean-room job."""

from __future__ import annotations

import os
import subprocess
import tarfile
import tempfile
from pathlib import Path

import docker
from docker.errors import APIError

from small_harness.core.errors import HarnessError
from small_harness.core.tools import program

BOOTSTRAPPED_BASE = "small-base:trixie"
SUITE = "trixie"
FALLBACK_MIRROR = "http://deb.debian.org/debian"
APT_SOURCES = Path("/etc/apt")


def _host_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return ""


def _source_entries(apt_dir: Path) -> list[tuple[str, list[str]]]:
    """(URI, suites) of every `deb` entry in one-line and deb822 apt sources."""
    entries: list[tuple[str, list[str]]] = []
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*.list"))]:
        if path.is_file():
            for line in path.read_text().splitlines():
                words = [w for w in line.split() if not w.startswith("[")]  # drop [options]
                if len(words) >= 3 and words[0] == "deb":
                    entries.append((words[1], [words[2]]))
    for path in sorted((apt_dir / "sources.list.d").glob("*.sources")):
        for stanza in path.read_text().split("\n\n"):
            fields = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith((" ", "#")):
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []):
                entries += [(uri, fields.get("suites", [])) for uri in fields.get("uris", [])]
    return entries


def host_debian_mirror(apt_dir: Path = APT_SOURCES, codename: str | None = None) -> str:
    """The Debian archive this machine's apt uses for its own release; it serves trixie too."""
    codename = codename if codename is not None else _host_codename()
    for uri, suites in _source_entries(apt_dir):
        if codename in suites and "security" not in uri:
            return uri.rstrip("/")
    return FALLBACK_MIRROR


def bootstrap_base_image(client: docker.DockerClient, mirror: str | None = None, suite: str = SUITE,
                         image: str = BOOTSTRAPPED_BASE) -> str:
    """Creates `image` from `debootstrap --variant=minbase suite`; prints debootstrap's progress.
    Needs root."""
    if os.geteuid() != 0:
        raise HarnessError(f"making the {image} image needs root (debootstrap): run sudo invoke toolchain.bootstrap")
    debootstrap = program("debootstrap")
    mirror = mirror or host_debian_mirror()
    print(f"   bootstrapping {image}: debootstrap --variant=minbase {suite} from {mirror}", flush=True)
    with tempfile.TemporaryDirectory(prefix="small-base-", dir="/var/tmp") as work:
        root = Path(work) / "root"
        process = subprocess.Popen([debootstrap, "--variant=minbase", suite, str(root), mirror],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        log: list[str] = []
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith(("I: Retrieving", "I: Validating", "I: Extracting", "I: Installing", "I: Base")):
                print(f"   | {line.rstrip()}", flush=True)
        if process.wait() != 0:
            raise HarnessError(f"debootstrap {suite} from {mirror} failed (exit {process.returncode})",
                               details="\n".join(log[-15:]))
        archive = Path(work) / "root.tar"
        with tarfile.open(archive, "w") as tar:
            tar.add(root, arcname=".")
        repository, tag = image.split(":")
        try:
            client.api.import_image_from_file(str(archive), repository=repository, tag=tag)
            client.images.get(image)
        except (APIError, docker.errors.ImageNotFound) as error:
            reason = str(getattr(error, "explanation", None) or error).strip().splitlines()[0][:200]
            raise HarnessError(f"docker import of {image} failed: {reason}") from None
    print(f"   imported {image}", flush=True)
    return image

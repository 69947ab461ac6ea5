"""The offline base image: Debian trixie made with debootstrap from the apt mirror this machine
already uses, then `docker import`ed. For machines that reach a Debian mirror but no registry."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import docker

from .errors import HarnessError

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


def bootstrap_base_image(client: docker.DockerClient, mirror: str | None = None) -> str:
    """Creates BOOTSTRAPPED_BASE with debootstrap; prints debootstrap's progress. Needs root."""
    if os.geteuid() != 0:
        raise HarnessError("making the base image needs root (debootstrap): run sudo invoke toolchain.bootstrap")
    if shutil.which("debootstrap") is None:
        raise HarnessError("debootstrap not found; install it with: apt-get install -y debootstrap")
    mirror = mirror or host_debian_mirror()
    print(f"   bootstrapping {BOOTSTRAPPED_BASE}: debootstrap --variant=minbase {SUITE} from {mirror}", flush=True)
    with tempfile.TemporaryDirectory(prefix="small-base-", dir="/var/tmp") as work:
        root = Path(work) / "root"
        process = subprocess.Popen(["debootstrap", "--variant=minbase", SUITE, str(root), mirror],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        log: list[str] = []
        for line in process.stdout:
            log.append(line.rstrip())
            if line.startswith(("I: Retrieving", "I: Validating", "I: Extracting", "I: Installing", "I: Base")):
                print(f"   | {line.rstrip()}", flush=True)
        if process.wait() != 0:
            raise HarnessError(f"debootstrap {SUITE} from {mirror} failed (exit {process.returncode})",
                               details="\n".join(log[-15:]))
        archive = Path(work) / "root.tar"
        subprocess.run(["tar", "-C", str(root), "-cf", str(archive), "."], check=True)
        repository, tag = BOOTSTRAPPED_BASE.split(":")
        client.api.import_image_from_file(str(archive), repository=repository, tag=tag)
    print(f"   imported {BOOTSTRAPPED_BASE}", flush=True)
    return BOOTSTRAPPED_BASE

"""The toolchain images: which base image to start from, and one image per target built from
docker/toolchain.Dockerfile, tagged by a hash of its inputs so it is built only when they change."""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound

from small_harness.toolchain.docker.bootstrap import BOOTSTRAPPED_BASE, bootstrap_base_image
from small_harness.toolchain.docker.containers import state_lock
from small_harness.core.errors import HarnessError
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target
from small_harness.core.tools import program

REGISTRY_BASE = "debian:trixie-slim"
DOCKERFILE = REPO_ROOT / "docker" / "toolchain.Dockerfile"
VERSIONS_FILE = "/etc/small-toolchain-versions"
LOG_TAIL_LINES = 15


class ImageBuildError(HarnessError):
    """A toolchain image failed to build."""


@dataclass(frozen=True)
class BaseImage:
    name: str
    image_id: str
    origin: str  # how it was found, for the user


def _local_image(client: docker.DockerClient, name: str) -> str | None:
    try:
        return str(client.images.get(name).id)
    except ImageNotFound:
        return None


def ensure_base_image(client: docker.DockerClient) -> BaseImage:
    """A local base image, else the registry's, else one bootstrapped from the Debian archive."""
    with state_lock("base-image"):  # parallel jobs make it once
        return _ensure_base_image(client)


def _ensure_base_image(client: docker.DockerClient) -> BaseImage:
    for name, origin in ((REGISTRY_BASE, "from the registry, cached"),
                         (BOOTSTRAPPED_BASE, "bootstrapped from the Debian archive, cached")):
        image_id = _local_image(client, name)
        if image_id:
            return BaseImage(name, image_id, origin)
    try:
        repository, tag = REGISTRY_BASE.split(":")
        print(f"   pulling {REGISTRY_BASE} from the registry", flush=True)
        image = client.images.pull(repository, tag=tag)
        return BaseImage(REGISTRY_BASE, str(image.id), "pulled from the registry")
    except APIError as error:
        reason = str(error.explanation or error).splitlines()[0][:140]
        print(f"   no registry ({reason}); making the base image offline", flush=True)
    try:
        name = bootstrap_base_image(client)
    except HarnessError as error:
        raise HarnessError(f"no base image: {REGISTRY_BASE} cannot be pulled (no registry) and "
                           f"bootstrapping failed: {error.message}", details=error.details) from None
    return BaseImage(name, str(client.images.get(name).id), "bootstrapped from the Debian archive")


def _build_args(target: Target, base: BaseImage) -> dict[str, str]:
    packages = target.packages.all()
    return {
        "BASE_IMAGE": base.name,
        "PACKAGES": " ".join(packages),
        "CC": target.compiler.cc,
        "QEMU": target.emulator.binary if target.emulator else "",
    }


def image_tag(target: Target, base: BaseImage) -> str:
    """small-toolchain-<target>:<hash of the Dockerfile, the base image and the build args>."""
    inputs = {"dockerfile": DOCKERFILE.read_text(), "base": base.image_id, "args": _build_args(target, base)}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]
    return f"small-toolchain-{target.toolchain_id}:{digest}"


def _build(client: docker.DockerClient, target: Target, base: BaseImage, tag: str) -> None:
    """Builds with the docker SDK, echoing the build's output so a long build is never silent."""
    log: list[str] = []
    step = ""
    try:
        for chunk in client.api.build(path=str(DOCKERFILE.parent), dockerfile=DOCKERFILE.name, tag=tag,
                                      buildargs=_build_args(target, base), network_mode="host", rm=True,
                                      forcerm=True, decode=True):
            step = _build_chunk(chunk, tag, step, log)
    except APIError as error:
        reason = str(error.explanation or error).strip().splitlines()[0][:200]
        raise ImageBuildError(f"building {tag} failed at {step or 'the start'}: {reason}",
                              details="\n".join(log[-LOG_TAIL_LINES:])) from None


def _build_chunk(chunk: dict[str, object], tag: str, step: str, log: list[str]) -> str:
    """Echoes one chunk of the build's output; returns the current step."""
    if "error" in chunk:
        raise ImageBuildError(f"building {tag} failed at {step or 'the start'}: {str(chunk['error']).strip()}",
                              details="\n".join(log[-LOG_TAIL_LINES:]))
    for line in str(chunk.get("stream", "")).splitlines():
        line = line.rstrip()
        if not line:
            continue
        log.append(line)
        if line.startswith("Step "):
            step = line
        print(f"   | {line[:150]}", flush=True)
    return step


@dataclass(frozen=True)
class ToolchainImage:
    tag: str
    built_now: bool
    base: BaseImage


def ensure_toolchain_image(client: docker.DockerClient, target: Target) -> ToolchainImage:
    """The target's image, built from its base if it does not exist yet."""
    base = ensure_base_image(client)
    tag = image_tag(target, base)
    if _local_image(client, tag):
        return ToolchainImage(tag, False, base)
    print(f"   building {tag} from {base.name} ({base.origin})", flush=True)
    _build(client, target, base, tag)
    return ToolchainImage(tag, True, base)


def _repository_images(client: docker.DockerClient, repository: str) -> list[str]:
    return [tag for image in client.images.list(name=repository) for tag in image.tags]


def save_images(client: docker.DockerClient, target: Target, folder: Path) -> list[str]:
    """`docker save`s the target's toolchain image and its base into folder/images.tar (for a CI
    cache) unless that file exists; returns the images saved."""
    archive = folder / "images.tar"
    if archive.exists():
        return []
    names = _repository_images(client, f"small-toolchain-{target.toolchain_id}")
    names += [name for name in (REGISTRY_BASE, BOOTSTRAPPED_BASE) if _local_image(client, name)]
    if names:
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([program("docker"), "save", "-o", str(archive), *names], check=True)
    return names


def load_images(folder: Path) -> bool:
    """`docker load`s folder/images.tar when there is one (restored from a CI cache)."""
    archive = folder / "images.tar"
    if not archive.is_file():
        return False
    subprocess.run([program("docker"), "load", "-q", "-i", str(archive)], check=True)
    return True

"""Where target code is built and run: on this machine (host) or in a per-target toolchain
container (docker). Builds, the C self-test and the runner all go through a Backend."""

from __future__ import annotations

import re
import shlex
import subprocess
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError

from small_harness.toolchain.docker.containers import ensure_container, exec_in, is_gone, state_lock, user_spec
from small_harness.toolchain.docker.engine import DockerUnavailable, connect_working, engine_version
from small_harness.toolchain.docker.images import VERSIONS_FILE, ensure_toolchain_image
from small_harness.core.errors import HarnessError
from small_harness.toolchain.host import check_host_toolchain, describe_toolchain
from small_harness.core.paths import REPO_ROOT
from small_harness.targets.types import Target, Variant
from small_harness.core.tools import program

BACKEND_CHOICES = ("auto", "docker", "host")


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str  # stdout and stderr, interleaved


class Backend(ABC):
    name: str

    @abstractmethod
    def prepare(self, target: Target) -> str:
        """Make the target's toolchain ready (check it, or build its image); describe it."""

    @abstractmethod
    def run(self, target: Target, argv: list[str], cwd: Path) -> CommandResult:
        """Run a command to completion with the target's toolchain."""

    @abstractmethod
    def interactive_command(self, target: Target, argv: list[str]) -> list[str]:
        """The argv that runs `argv` with the target's toolchain with stdin and stdout attached."""


    def runner_command(self, target: Target, runner: Path, variant: Variant | None = None) -> list[str]:
        """The argv that starts a built runner as a variant asks (None: the library's own choice of
        kernels, on the default CPU), with this toolchain."""
        return self.interactive_command(target, target.run_command(variant) + [str(runner)])

    def emulator_version(self, target: Target) -> str | None:
        """The QEMU version that runs the target's code with this backend, e.g. "7.2.22"."""
        if target.emulator is None:
            return None
        output = self.run(target, [target.emulator.binary, "--version"], REPO_ROOT).output
        found = re.search(r"version (\d+(?:\.\d+)+)", output)
        return found.group(1) if found else None


class HostBackend(Backend):
    name = "host"

    def prepare(self, target: Target) -> str:
        check_host_toolchain(target)
        return describe_toolchain(target)

    def run(self, target: Target, argv: list[str], cwd: Path) -> CommandResult:
        result = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        return CommandResult(result.returncode, result.stdout)

    def interactive_command(self, target: Target, argv: list[str]) -> list[str]:
        return argv


class DockerBackend(Backend):
    """Each target's commands run in a long-lived container of its toolchain image
    (docker_containers.py): the repository bind-mounted at the same path, as the invoking user (no
    root-owned files in the tree), without network, not privileged."""

    name = "docker"

    def __init__(self, client: docker.DockerClient):
        self.client = client
        self._images: dict[str, str] = {}
        self._descriptions: dict[str, str] = {}

    def _container(self, target: Target) -> str:
        if target.toolchain_id not in self._images:
            self.prepare(target)
        return ensure_container(self.client, target.toolchain_id, self._images[target.toolchain_id])

    def prepare(self, target: Target) -> str:
        if target.name not in self._descriptions:
            with state_lock(f"image-{target.toolchain_id}"):  # parallel jobs build one image once
                image = ensure_toolchain_image(self.client, target)
            self._images[target.toolchain_id] = image.tag
            versions = self.run(target, ["cat", VERSIONS_FILE], REPO_ROOT).output.strip().splitlines()
            emulator = " ".join(target.emulator_command()) if target.emulator else "none (runs natively)"
            self._descriptions[target.name] = "\n".join([
                f"{target.name} (docker): {target.description}",
                f"  image: {image.tag} ({'built now' if image.built_now else 'reused'}), "
                f"base {image.base.name} ({image.base.origin})",
                f"  compiler: {' '.join(target.compiler_command())}",
                f"  emulator: {emulator}",
                *(f"            {line}" for line in versions),
            ])
        return self._descriptions[target.name]

    def run(self, target: Target, argv: list[str], cwd: Path) -> CommandResult:
        for attempt in (1, 2):
            name = self._container(target)
            try:
                code, output = exec_in(self.client, name, argv, cwd)
                return CommandResult(code, output)
            except APIError as error:
                if attempt == 2 or not is_gone(error):
                    raise HarnessError(f"{target.name}: docker exec {shlex.join(argv)} failed: "
                                       f"{str(error.explanation or error).splitlines()[0][:200]}") from None
        raise AssertionError("unreachable")

    def interactive_command(self, target: Target, argv: list[str]) -> list[str]:
        # The runner speaks a binary protocol on stdin/stdout for its whole life; `docker exec -i`
        # attaches both streams to a process in the target's running container.
        docker_cli = program("docker")
        name = self._container(target)
        return [docker_cli, "exec", "-i", "--user", user_spec(), "-e", "HOME=/tmp", "-w", str(REPO_ROOT), name, *argv]


def select_backend(requested: str) -> tuple[Backend, str]:
    """The backend to use, and why, in words for the first line of output."""
    if requested == "host":
        return HostBackend(), "requested with --toolchain host"
    if requested == "docker":
        client = connect_working()
        return DockerBackend(client), f"requested with --toolchain docker; engine {engine_version(client)}"
    if requested == "auto":
        try:
            client = connect_working()
        except DockerUnavailable as error:
            return HostBackend(), f"{error.reason}: falling back to the host toolchains"
        return DockerBackend(client), f"a Docker engine answers and runs containers (version {engine_version(client)})"
    raise HarnessError(f"unknown toolchain '{requested}'; choose one of: {', '.join(BACKEND_CHOICES)}")

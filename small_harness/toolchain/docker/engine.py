"""Connecting to the Docker engine, and the one-line explanation of why it failed."""

from __future__ import annotations

import os

import docker
from docker.errors import DockerException

from small_harness.toolchain.docker.containers import running_containers
from small_harness.toolchain.docker.probe import probe_engine
from small_harness.core.errors import HarnessError


class DockerUnavailable(HarnessError):
    """No Docker engine can be used: not installed, not running, or no permission. `reason` is
    the fact alone, for messages that go on without Docker."""

    def __init__(self, reason: str, advice: str) -> None:
        super().__init__(f"{reason}: {advice}, or use --toolchain host")
        self.reason = reason


def _engine_address() -> str:
    return os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")


def _explain(error: Exception) -> DockerUnavailable:
    text = str(error)
    address = _engine_address()
    if "Permission denied" in text or "PermissionError" in text:
        return DockerUnavailable(f"permission denied on {address}",
                                 "add yourself to the docker group (sudo usermod -aG docker $USER, then log in again)")
    if any(sign in text for sign in ("FileNotFoundError", "No such file", "ConnectionRefused", "Connection refused")):
        return DockerUnavailable(f"no Docker engine answers at {address}",
                                 "start it (sudo systemctl start docker, or dockerd &)")
    return DockerUnavailable(f"the Docker engine at {address} cannot be used ({text.splitlines()[0][:160]})",
                             "check that it runs")


def connect() -> docker.DockerClient:
    """A client whose engine answered a ping; raises DockerUnavailable with what to do."""
    try:
        client = docker.from_env(timeout=300)
        client.ping()
    except DockerException as error:
        raise _explain(error) from None
    return client


_probed: dict[str, str | None] = {}  # per engine address: why it cannot run containers, or None


def connect_working() -> docker.DockerClient:
    """A client whose engine answers and can run containers: a running toolchain container of
    this checkout proves it, else a probe container does (once per process). Raises
    DockerUnavailable in one line when it answers but cannot."""
    client = connect()
    address = _engine_address()
    if address not in _probed:
        _probed[address] = None if running_containers(client) else probe_engine(client)
    why = _probed[address]
    if why is not None:
        raise DockerUnavailable(f"the Docker engine at {address} answers but cannot run containers ({why})",
                                "run the harness where containers can start (privileged, or on the host)")
    return client


def engine_version(client: docker.DockerClient) -> str:
    return str(client.version().get("Version", "unknown"))

"""One long-lived container per toolchain image and checkout, reused by every build, run and test
session instead of a container per command.

Why: with the vfs storage driver (CI machines, containers without overlayfs) each container start
copies the whole image, 1-2 GB, which took 25 s a start here. So each target's container is started
once, commands are `docker exec`ed into it, and it removes itself once idle: its main process is a
shell loop that exits (and the container is auto-removed) when no other process runs in it and the
harness has not touched its heartbeat file for IDLE_MINUTES. A container whose image has changed
is replaced.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import docker
from docker.errors import APIError, NotFound
from docker.models.containers import Container

from small_harness.core.paths import REPO_ROOT

IDLE_MINUTES = 10
STATE_DIR = REPO_ROOT / "build" / "docker"
LABEL_REPO, LABEL_TARGET, LABEL_IMAGE = "small.repo", "small.target", "small.image"


@contextmanager
def state_lock(name: str) -> Iterator[None]:
    """An exclusive lock between processes of this checkout (parallel CI jobs), e.g. around
    building one image or starting one container."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with (STATE_DIR / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def user_spec() -> str:
    return f"{os.getuid()}:{os.getgid()}"


def container_name(target_name: str) -> str:
    """Unique per checkout and user: two clones, or two users, never share a container."""
    owner = hashlib.sha256(f"{REPO_ROOT}:{os.getuid()}".encode()).hexdigest()[:10]
    return f"small-{target_name}-{owner}"


def heartbeat_path(name: str) -> Path:
    return STATE_DIR / f"{name}.heartbeat"


def touch_heartbeat(name: str) -> None:
    path = heartbeat_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()


def _idle_loop(name: str) -> str:
    # `set -- /proc/[0-9]*` counts this container's processes without forking: only this shell
    # (pid 1) left means no build, runner or test is inside.
    return (f"beat='{heartbeat_path(name)}'; "
            "while sleep 15; do set -- /proc/[0-9]*; [ \"$#\" -gt 1 ] && continue; "
            f"[ -n \"$(find \"$beat\" -mmin -{IDLE_MINUTES} 2>/dev/null)\" ] && continue; exit 0; done")


def _running(container: Container) -> bool:
    container.reload()
    return container.status == "running"


def ensure_container(client: docker.DockerClient, target_name: str, image: str) -> str:
    """The name of a running container of `image` for this target and checkout: the one already
    running when its image matches, else a new one (replacing a stale one)."""
    name = container_name(target_name)
    with state_lock(f"container-{target_name}"):
        touch_heartbeat(name)
        try:
            existing = client.containers.get(name)
            if existing.labels.get(LABEL_IMAGE) == image and _running(existing):
                return name
            existing.remove(force=True)
        except NotFound:
            pass
        print(f"   starting container {name} from {image} (reused until idle for {IDLE_MINUTES} min)", flush=True)
        client.containers.run(
            image, ["sh", "-c", _idle_loop(name)], name=name, detach=True, auto_remove=True,
            network_disabled=True, user=user_spec(), environment={"HOME": "/tmp"}, working_dir=str(REPO_ROOT),
            volumes={str(REPO_ROOT): {"bind": str(REPO_ROOT), "mode": "rw"}},
            labels={LABEL_REPO: str(REPO_ROOT), LABEL_TARGET: target_name, LABEL_IMAGE: image},
        )
        return name


def running_containers(client: docker.DockerClient) -> list[Container]:
    """This checkout's toolchain containers that are running now."""
    return list(client.containers.list(filters={"label": f"{LABEL_REPO}={REPO_ROOT}", "status": "running"}))


def exec_in(client: docker.DockerClient, name: str, argv: list[str], cwd: Path) -> tuple[int, str]:
    """Runs argv to completion in the container; (exit code, stdout and stderr interleaved)."""
    touch_heartbeat(name)
    result = client.containers.get(name).exec_run(argv, workdir=str(cwd), user=user_spec(),
                                                  environment={"HOME": "/tmp"})
    return int(result.exit_code), result.output.decode("utf-8", "replace")


def is_gone(error: APIError) -> bool:
    """The container stopped between our lookup and the exec (it went idle): start it again."""
    text = str(error).lower()
    return error.status_code in (404, 409) or "is not running" in text

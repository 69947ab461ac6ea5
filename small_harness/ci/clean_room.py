"""`invoke clean-room`: the README's two Quick start commands, run as a new user would, in a
throwaway container of a freshly debootstrapped Debian 12 or 13 (minbase: not even Python) holding a
fresh clone of the last commit and ../shared beside it. Nothing else from this machine goes in but
what reaches the package registries here: the CA bundle and pip's configuration with the local
wheel folders it names, read-only. So a program that only this machine has installed by hand fails
here, as it would on a user's machine.

The container is not privileged, so a Docker engine inside it normally cannot start containers:
the harness must notice that and fall back to the host toolchains, which this job also proves."""

from __future__ import annotations

import configparser
import io
import os
import re
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from small_harness.toolchain.docker.bootstrap import bootstrap_base_image
from small_harness.toolchain.docker.engine import connect_working
from small_harness.core.errors import HarnessError
from small_harness.core.junit import JunitCase
from small_harness.core.junit import write_junit as write_junit_file
from small_harness.core.paths import REPO_ROOT
from small_harness.core.tarballs import extract_tar
from small_harness.core.tools import program

RELEASES = {"debian12": "bookworm", "debian13": "trixie"}  # what the README promises: both
SHARED_DIR = REPO_ROOT.parent / "shared"
WORK = "/src"  # the clone is /src/main, ../shared is /src/shared
README = REPO_ROOT / "README.md"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# Where Debian's ca-certificates takes local CAs from: when apt installs that package in the clean
# room (python3-venv needs it), the bundle it writes keeps this machine's CAs.
LOCAL_CA = "/usr/local/share/ca-certificates/small-host-registry.crt"
PIP_CONFIGS = (Path("/etc/pip.conf"), Path("/etc/xdg/pip/pip.conf"), Path.home() / ".config" / "pip" / "pip.conf",
               Path.home() / ".pip" / "pip.conf")
OUTPUT_TAIL_LINES = 40
# Lines of a README command's output that say what failed: pytest's "FAILED tests/...", the inner
# `invoke ci`'s "job: case: message" lines after its table, "[ 12 s] FAILED  job", and "error: ...".
# They go into the JUnit failure's message, which is all a CI summary shows of a clean room's run.
FAILURE_LINE = re.compile(r"^\s*(FAILED\b|ERROR\b|error:|\S+: \S+::)|\] FAILED ")
FAILURE_LINES_KEPT = 8


def readme_commands(readme: Path = README) -> list[str]:
    """The shell commands of the README's Quick start section, in order: the main job, then the
    tests. Read from the README itself, so the clean room runs what users are told to run."""
    text = readme.read_text()
    section = re.search(r"^## Quick start.*?(?=^## )", text, flags=re.M | re.S)
    if section is None:
        raise HarnessError(f"{readme.name}: no '## Quick start' section")
    commands = [block.strip() for block in re.findall(r"```sh\n(.*?)```", section.group(0), flags=re.S)]
    if len(commands) != 2:
        raise HarnessError(f"{readme.name}: the Quick start section must hold two ```sh blocks, found {len(commands)}")
    return commands


def registry_settings() -> list[Path]:
    """What this machine uses to reach the package registries: pip's configuration files and the
    local files and folders they name (constraints, find-links folders; a file:// index's folder
    with the files its pages link to, one level up from .../simple). The CA bundle is handed over
    apart (machine_mounts)."""
    paths = []
    for config_file in PIP_CONFIGS:
        if not config_file.is_file():
            continue
        paths.append(config_file)
        parser = configparser.ConfigParser()
        parser.read(config_file)
        for section in parser.sections():
            for key in parser.options(section):  # any setting that names a local file or folder
                for value in parser.get(section, key, fallback="").split():
                    if not value.startswith(("file://", "/")):
                        continue
                    local = Path(value.removeprefix("file://"))
                    if local.name == "simple":
                        local = local.parent
                    if local.exists() and local != CA_BUNDLE:
                        paths.append(local)
    return list(dict.fromkeys(paths))


def machine_mounts() -> dict[str, dict[str, str]]:
    """Read-only mounts: the registry settings at their own paths, and the CA bundle where a
    Debian machine keeps a local CA (a mount over /etc/ssl/certs/ca-certificates.crt itself would
    break the ca-certificates package, which rewrites that file)."""
    mounts = {str(path): {"bind": str(path), "mode": "ro"} for path in registry_settings()}
    if CA_BUNDLE.is_file():
        mounts[str(CA_BUNDLE)] = {"bind": LOCAL_CA, "mode": "ro"}
    return mounts


def clean_room_image(release: str) -> str:
    return f"small-cleanroom:{release}"


def _base_image(client: docker.DockerClient, release: str, fresh: bool) -> str:
    """A pristine Debian image: debootstrapped here when root (cached: nothing is ever added to
    it), else the registry's debian:<release>."""
    image = clean_room_image(release)
    if not fresh:
        try:
            client.images.get(image)
            print(f"   base: {image} (debootstrapped earlier; --fresh makes it again)", flush=True)
            return image
        except ImageNotFound:
            pass
    if os.geteuid() == 0:
        return bootstrap_base_image(client, suite=release, image=image)
    try:
        print(f"   pulling debian:{release} (not root: no debootstrap)", flush=True)
        client.images.pull("debian", tag=release)
        return f"debian:{release}"
    except APIError as error:
        raise HarnessError(f"no clean {release} image: not root (for debootstrap) and debian:{release} cannot be "
                           f"pulled ({str(error.explanation or error).splitlines()[0][:120]}); run it with sudo") from None


def _archive(folders: dict[str, Path]) -> bytes:
    """A tar holding each folder under its name."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, folder in folders.items():
            tar.add(folder, arcname=name)
    return buffer.getvalue()


def _fresh_clone(into: Path) -> Path:
    clone = into / "main"
    subprocess.run([program("git"), "clone", "--quiet", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True)
    changed = subprocess.run([program("git"), "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
                             capture_output=True, text=True, check=False).stdout.splitlines()
    if changed:
        print(f"   note: the clean room tests the last commit; {len(changed)} changed files here are not in it",
              flush=True)
    return clone


@dataclass(frozen=True)
class CommandOutcome:
    command: str
    exit_code: int
    seconds: float
    tail: str
    failures: tuple[str, ...] = ()  # the first FAILURE_LINES_KEPT lines that said what failed

    def failure_message(self) -> str:
        """One line for a JUnit message: the exit code, then what the output said failed."""
        said = "; ".join(line.strip() for line in self.failures)
        return f"exit {self.exit_code}" + (f": {said}" if said else "")


def _run_in(client: docker.DockerClient, container_id: str, command: str) -> CommandOutcome:
    print(f"\n== clean room: {command}", flush=True)
    started = time.monotonic()
    exec_id = client.api.exec_create(container_id, ["bash", "-c", command], workdir=f"{WORK}/main")["Id"]
    tail: list[str] = []
    failures: list[str] = []
    pending = b""
    for chunk in client.api.exec_start(exec_id, stream=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace")
            print(f"   | {text}", flush=True)
            tail = (tail + [text])[-OUTPUT_TAIL_LINES:]
            if FAILURE_LINE.search(text) and len(failures) < FAILURE_LINES_KEPT:
                failures.append(text)
    code = client.api.exec_inspect(exec_id)["ExitCode"]
    seconds = time.monotonic() - started
    print(f"== clean room: exit {code} after {seconds:.0f} s: {command}", flush=True)
    return CommandOutcome(command, int(code if code is not None else -1), seconds, "\n".join(tail), tuple(failures))


def write_junit(path: Path, outcomes: list[CommandOutcome], skipped_reason: str = "") -> None:
    if skipped_reason:
        cases = [JunitCase(command, skipped=skipped_reason) for command in readme_commands()]
    else:
        cases = [JunitCase(o.command, o.seconds, failure=o.failure_message() if o.exit_code != 0 else "",
                           details=o.tail) for o in outcomes]
    write_junit_file(path, "clean-room", cases)


def _copy_out(container: docker.models.containers.Container, source: str, destination: Path) -> None:
    """The inner run's build/ci folder (its own JUnit files and logs), for a look after a failure."""
    try:
        stream, _ = container.get_archive(source)
    except (NotFound, APIError):
        return
    extract_tar(b"".join(stream), destination)


def run_clean_room(junit: Path | None, release: str = "debian12", fresh: bool = False) -> bool:
    """Runs the README's commands in a clean Debian container (release: debian12 or debian13);
    True when both passed."""
    if release not in RELEASES:
        raise HarnessError(f"unknown release '{release}'; choose one of: {', '.join(RELEASES)}")
    commands = readme_commands()
    client = connect_working()  # no usable engine: the caller reports it
    image = _base_image(client, RELEASES[release], fresh)
    mounts = machine_mounts()
    with tempfile.TemporaryDirectory(prefix="small-cleanroom-") as work:
        clone = _fresh_clone(Path(work))
        folders = {"main": clone}
        if SHARED_DIR.is_dir():
            folders["shared"] = SHARED_DIR
        container = client.containers.run(
            image, ["sleep", "infinity"], detach=True, network_mode="host", volumes=mounts, working_dir=WORK,
            environment={"CLEAN_ROOM": "1", "SMALL_CLEAN_ROOM": "1"}, labels={"small.clean-room": str(REPO_ROOT)},
        )
        try:
            container.exec_run(["mkdir", "-p", WORK])
            container.put_archive(WORK, _archive(folders))
            if CA_BUNDLE.is_file():  # the trust store a machine here has before ca-certificates is installed
                container.exec_run(["sh", "-c", f"mkdir -p {CA_BUNDLE.parent} && cp {LOCAL_CA} {CA_BUNDLE}"])
            print(f"   container {container.short_id} from {image}; mounted read-only: "
                  f"{', '.join(m['bind'] for m in mounts.values()) or 'nothing'}", flush=True)
            outcomes = []
            for command in commands:
                outcomes.append(_run_in(client, container.id, command))
                if outcomes[-1].exit_code != 0:
                    break
            if junit is not None:
                _copy_out(container, f"{WORK}/main/build/ci", junit.parent / "inner")
        finally:
            container.remove(force=True)
    if junit is not None:
        write_junit(junit, outcomes)
    return len(outcomes) == len(commands) and all(o.exit_code == 0 for o in outcomes)

"""Files written whole or not at all: into a temporary file beside the target, then renamed over it.
A full disk, an error or an interrupt midway leaves the previous file (or its absence) as it was,
never a truncated file that a later run would take for a good one; a reader never sees half a file."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np


def write_atomically(path: Path, write: Callable[[BinaryIO], None]) -> None:
    """Calls write(file) on a new file in path's folder, then renames it to path. The temporary file is
    made with the usual permissions (0o666 less the umask, as open() makes files), and removed if
    anything fails; the error goes on to the caller."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())  # the data is on disk before the name points to it
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """path.write_bytes(data), whole or not at all."""
    def write(file: BinaryIO) -> None:
        file.write(data)
    write_atomically(path, write)


def save_array_atomically(path: Path, array: np.ndarray) -> None:
    """np.save(path, array), whole or not at all. path is the file's exact name: np.save given a file,
    not a name, adds no .npy."""
    def write(file: BinaryIO) -> None:
        np.save(file, array)
    write_atomically(path, write)

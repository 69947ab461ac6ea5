"""Unpacking a tar held in memory (a git archive, a container's folder), on every Python we run on."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path


def extract_tar(data: bytes, destination: Path) -> None:
    """Extracts with the "data" filter (no absolute paths, no links out of the destination) where
    Python has extraction filters (3.11.4 and later); Debian 12's 3.11.2 has none, and takes the
    archive as it is (ours: a git archive, or the clean room's own build folder)."""
    destination.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(destination, filter="data")
        else:
            tar.extractall(destination)

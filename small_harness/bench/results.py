"""Where the benchmarks' results go (build/bench/), and the one way they are written: JSON, whole or
not at all, beside which the charts go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from small_harness.core.files import write_bytes_atomically
from small_harness.core.paths import REPO_ROOT

RESULTS_DIR = REPO_ROOT / "build" / "bench"


def write_results(name: str, data: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """data as directory/name (made if need be); returns the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    write_bytes_atomically(path, (json.dumps(data, indent=1) + "\n").encode())
    return path

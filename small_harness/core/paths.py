"""Where things are: the repository this harness belongs to, and how messages show a path in it."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS_DIR = REPO_ROOT / "small_harness"


def relative(path: str | Path) -> str:
    """A path as messages show it: relative to the repository when inside it, else as it is."""
    path = Path(path)
    return str(path.relative_to(REPO_ROOT)) if path.is_absolute() and path.is_relative_to(REPO_ROOT) else str(path)

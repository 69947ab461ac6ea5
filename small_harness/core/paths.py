"""Where things are: the repository this harness belongs to, and how messages show a path in it."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HARNESS_DIR = REPO_ROOT / "small_harness"


def relative(path: object) -> str:
    """A path as messages show it: relative to the repository when inside it, else as it is."""
    text = str(path)
    root = f"{REPO_ROOT}/"
    return text[len(root):] if text.startswith(root) else text

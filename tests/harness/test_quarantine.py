"""tests/quarantine.toml stays well formed: every entry names its test, variant, QEMU versions and bug."""

from __future__ import annotations

import tomllib
from pathlib import Path

from small_harness.targets.registry import load_targets

REQUIRED = {"test": str, "variant": str, "qemu": list, "bug": str}


def test_quarantine_entries_are_complete() -> None:
    entries = tomllib.loads((Path(__file__).parent.parent / "quarantine.toml").read_text())["quarantine"]
    names = set(load_targets())
    for entry in entries:
        assert set(entry) == set(REQUIRED), f"quarantine entry keys {sorted(entry)}, need {sorted(REQUIRED)}"
        for key, kind in REQUIRED.items():
            assert isinstance(entry[key], kind) and entry[key], f"quarantine entry {key} must be a non-empty {kind}"
        assert entry["variant"].split("@")[0] in names, f"quarantine entry for unknown target {entry['variant']}"

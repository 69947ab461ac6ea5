"""Imported models, kept: the library's model file made of a .tflite file, in build/models/ by the file's
content and by the importer's and the format's versions, for other tools and the firmware; written whole,
and written again where what is kept differs from what the importer makes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from small_harness.core.errors import HarnessError
from small_harness.core.files import write_bytes_atomically
from small_harness.core.paths import REPO_ROOT, relative
from small_harness.models import format as model_format
from small_harness.models.format import Model, encode
from small_harness.models.tflite_import import IMPORTER_VERSION, import_tflite

CACHE_DIR = REPO_ROOT / "build" / "models"


@dataclass(frozen=True)
class ImportedModel:
    model: Model
    file: bytes  # the library's model file
    cache_path: Path


def cache_path(path: Path, data: bytes) -> Path:
    """Where the library's model file made of the .tflite file `path` (holding `data`) is kept: named by the
    file's content and by the versions of the importer and of the model format, so that a file another
    importer or format made is never taken for this one's."""
    digest = hashlib.sha256(data).hexdigest()[:16]
    return CACHE_DIR / f"{path.stem}-{digest}-format{model_format.VERSION}-importer{IMPORTER_VERSION}.smlm"


def import_cached(path: Path) -> ImportedModel:
    """Imports a .tflite file, keeping the library's model file in build/models/ (for other tools, and the
    firmware). The import runs every time (parsing is fast), so the kept file is checked against what it
    makes: one that differs (truncated by a full disk, damaged, or made by another importer under the same
    versions) is written again, saying so, rather than loaded and refused, or run with stale weights."""
    model = import_tflite(path)
    data = encode(model)
    kept = cache_path(path, path.read_bytes())
    why = _difference(kept, data)
    if why is None:
        return ImportedModel(model, data, kept)
    try:
        kept.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(kept, data)
    except OSError as error:
        raise HarnessError(f"{relative(kept)}: cannot write the imported model ({error.strerror}); free space in "
                           f"{relative(kept.parent)} or make it writable") from None
    if why != ABSENT:
        print(f"{relative(kept)} was stale or damaged ({why}): written again", flush=True)
    return ImportedModel(model, data, kept)


ABSENT = "absent"


def _difference(kept: Path, data: bytes) -> str | None:
    """How the kept model file differs from `data`, what the importer makes now, in a few words (ABSENT
    where there is none); None where it is the same."""
    try:
        cached = kept.read_bytes()
    except FileNotFoundError:
        return ABSENT
    except OSError as error:  # a folder in its place, no permission: written over if it can be
        return f"unreadable: {error.strerror}"
    if cached == data:
        return None
    if len(cached) < len(data) and data.startswith(cached):
        return f"truncated: {len(cached)} of {len(data)} bytes"
    if not cached.startswith(model_format.MAGIC):
        return f"not a model file: {len(cached)} bytes without the {model_format.MAGIC.decode()} header"
    return f"{len(cached)} bytes that differ from the {len(data)} this importer makes"

"""What `invoke run` does before and after the target runs, without building it (issue 25): the input is
refused in one HarnessError where it cannot be made or read (no ValueError, MemoryError, AttributeError or
EOFError traceback); the output and the model cache are written whole or not at all; a cache file that is
damaged, or was made by another importer or model format, is not used."""

from __future__ import annotations

import errno
import re
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pytest

from small_harness.core import files as atomic
from small_harness.models import cache as model_cache
from small_harness.models import run as run_model
from small_harness.core.errors import HarnessError
from small_harness.models.format import VERSION, Model, encode
from small_harness.models.run import MAX_INPUT_VALUES, input_size, model_input
from small_harness.models.cache import import_cached
from small_harness.models.tflite_import import IMPORTER_VERSION
from small_harness.models.tflite_writer import write
from test_tflite_malformed import fully_connected


def model_of_input(shape: tuple[int, int, int]) -> Model:
    """A model of which only the input matters here: no layer, nothing allocated."""
    return Model(name="m", shapes=[shape], nodes=[], input=0, output=0, input_layout=(1, *shape))


@pytest.mark.parametrize("shape", [(1, -3, 4), (0, 5, 5), (2, 2, -1)])
def test_an_input_dimension_below_1_is_refused(shape: tuple[int, int, int]) -> None:
    """numpy used to raise "negative dimensions are not allowed" from the random input."""
    with pytest.raises(HarnessError, match=r"has shape \(1, .*\): every dimension must be at least 1"):
        model_input(model_of_input(shape), None)


def test_an_input_over_the_arena_limit_is_refused_before_it_is_made() -> None:
    """One row over 2^26 values: it used to be made (and one 2^33 values large asked numpy for 32 GiB)."""
    with pytest.raises(HarnessError) as caught:
        model_input(model_of_input((1 << 13, (1 << 13) + 1, 1)), None)
    assert "has 67,117,056 values (268,468,224 bytes as float32), over the library's default arena limit of " \
           "67,108,864 float32 values (256 MiB)" in str(caught.value)
    with pytest.raises(HarnessError, match=r"\(1, 65536, 65536, 2\) has 8,589,934,592 values"):
        input_size(model_of_input((65536, 65536, 2)))
    assert input_size(model_of_input((1 << 13, 1 << 13, 1))) == MAX_INPUT_VALUES  # the limit itself is allowed


def test_a_npz_archive_is_refused_as_not_one_array(tmp_path: Path) -> None:
    """np.load gives an NpzFile, which has no dtype: an AttributeError. Refused even with one array
    (the choice: run takes .npy files only, and does not guess which array is meant)."""
    model = model_of_input((1, 1, 4))
    np.savez(tmp_path / "one.npz", np.ones(4))
    np.savez(tmp_path / "two.npz", x=np.ones(4), y=np.ones(4))
    with pytest.raises(HarnessError, match=r"one.npz: a .npz archive \(arrays: arr_0\), not a single array; save"):
        model_input(model, tmp_path / "one.npz")
    with pytest.raises(HarnessError, match=r"two.npz: a .npz archive \(arrays: x, y\), not a single array"):
        model_input(model, tmp_path / "two.npz")


def test_an_empty_file_is_refused_in_one_line(tmp_path: Path) -> None:
    """np.load raises EOFError on an empty file, which was not caught."""
    (tmp_path / "empty.npy").write_bytes(b"")
    for path in (tmp_path / "empty.npy", Path("/dev/null")):
        with pytest.raises(HarnessError, match=f"{path}: empty: not a .npy array; write the input with np.save"):
            model_input(model_of_input((1, 1, 4)), path)


def test_a_npy_header_that_declares_terabytes_is_not_allocated(tmp_path: Path) -> None:
    """The array is memory-mapped and its size compared before it is read: np.load used to allocate the
    declared 4 TiB first (a MemoryError), or a file's worth of anything the header claimed."""
    path = tmp_path / "huge.npy"
    with path.open("wb") as file:
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False, "shape": (1 << 40,)})
        file.write(bytes(64))
    with pytest.raises(HarnessError, match="huge.npy: cannot read a .npy array"):
        model_input(model_of_input((1, 1, 4)), path)


def test_a_good_input_is_read_as_a_plain_float32_array(tmp_path: Path) -> None:
    np.save(tmp_path / "x.npy", np.arange(8, dtype=np.int16).reshape(2, 4), allow_pickle=False)
    x = model_input(model_of_input((1, 2, 4)), tmp_path / "x.npy")
    assert type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous  # not the file's mapping
    np.testing.assert_array_equal(x.ravel(), np.arange(8))


def _fail_midway(file: Any, *_: Any, **__: Any) -> None:
    """np.save on a full disk: part of the file written, then ENOSPC."""
    if isinstance(file, (str, Path)):
        with open(file, "wb") as opened:
            opened.write(b"\x93NUMPY partial")
    else:
        file.write(b"\x93NUMPY partial")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("previous", [b"the previous output", None])
def test_a_failed_output_write_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        previous: bytes | None) -> None:
    """np.save wrote straight to the target: a full disk left a truncated .npy where the previous one was."""
    target = tmp_path / "out.npy"
    if previous is not None:
        target.write_bytes(previous)
    monkeypatch.setattr(np, "save", _fail_midway)
    output = np.ones((1, 10), np.float32)
    with pytest.raises(HarnessError, match=r"--output out.npy: cannot write \(No space left on device\)"):
        run_model._report_output(output, output, target, Path("out.npy"))
    assert (target.read_bytes() if target.exists() else None) == previous
    assert [p.name for p in tmp_path.iterdir()] == ([] if previous is None else ["out.npy"])  # no temporary left


def test_the_output_is_written_whole(tmp_path: Path) -> None:
    target = tmp_path / "out.npy"
    target.write_bytes(b"old")
    output = np.arange(10, dtype=np.float32).reshape(1, 10)
    run_model._report_output(output, output, target, target)
    np.testing.assert_array_equal(np.load(target), output)
    assert [p.name for p in tmp_path.iterdir()] == ["out.npy"]


def test_write_atomically_removes_its_temporary_file_on_any_failure(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_bytes(b"old")

    def interrupted(file: BinaryIO) -> None:
        file.write(b"new, half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic.write_atomically(target, interrupted)
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["file"]
    atomic.write_bytes_atomically(target, b"new")
    assert target.read_bytes() == b"new" and [p.name for p in tmp_path.iterdir()] == ["file"]


@pytest.fixture
def tflite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A small valid model, with the model cache moved into tmp_path/cache."""
    monkeypatch.setattr(model_cache, "CACHE_DIR", tmp_path / "cache")
    path = tmp_path / "small.tflite"
    path.write_bytes(write(fully_connected()))
    return path


def test_the_cache_file_is_named_by_the_importer_and_format_versions(tflite_file: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The key was the .tflite's hash alone: a file an older importer made was reused as it was."""
    first = import_cached(tflite_file).cache_path
    assert first.name.endswith(f"-format{VERSION}-importer{IMPORTER_VERSION}.smlm")
    monkeypatch.setattr(model_cache, "IMPORTER_VERSION", IMPORTER_VERSION + 1)
    second = import_cached(tflite_file).cache_path
    assert second != first and second.is_file() and second.read_bytes() == first.read_bytes()


@pytest.mark.parametrize("damage, why", [
    (lambda data: data[: len(data) // 2], r"truncated: \d+ of \d+ bytes"),
    (lambda data: b"", r"truncated: 0 of \d+ bytes"),
    (lambda data: b"junk" * 30, "not a model file: 120 bytes without the SMLM header"),
    (lambda data: data[:-4] + b"\xff\xff\xff\xff", r"\d+ bytes that differ from the \d+ this importer makes"),
], ids=["half", "empty", "junk", "last-weight-changed"])
def test_a_damaged_cache_file_is_written_again_saying_so(tflite_file: Path, capsys: pytest.CaptureFixture[str],
                                                         damage: Any, why: str) -> None:
    """It used to be returned as it was: the runner then refused it, or ran the damaged weights."""
    imported = import_cached(tflite_file)
    good = imported.cache_path.read_bytes()
    assert good == encode(imported.model) and capsys.readouterr().out == ""  # a first write is not news
    imported.cache_path.write_bytes(damage(good))
    again = import_cached(tflite_file)
    assert again.cache_path.read_bytes() == good and again.file == good
    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith(f"{imported.cache_path} was stale or damaged (") and line.endswith("): written again")
    assert re.search(why, line), line
    import_cached(tflite_file)
    assert capsys.readouterr().out == ""  # now it is the same


def test_a_failed_cache_write_leaves_no_partial_file(tflite_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_bytes straight to build/models/ left a truncated file on a full disk, used by the next run."""
    def full_disk(_: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full_disk)
    with pytest.raises(HarnessError, match=r"cannot write the imported model \(No space left on device\)"):
        import_cached(tflite_file)
    assert list((tflite_file.parent / "cache").iterdir()) == []

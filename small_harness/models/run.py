"""`invoke run --model M.tflite --arch A`: import the model (models/cache.py), build the target, run one
inference through the library's own runtime (on one variant of the target if asked: aarch64@sve-vlen512),
and report the kernels that served each layer, the prediction, the arena and the time."""

from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

import numpy as np

from small_harness.core.paths import relative
from small_harness.core.files import save_array_atomically
from small_harness.toolchain.backends import Backend
from small_harness.build.cmake import build
from small_harness.core.errors import HarnessError
from small_harness.firmware.image import build_firmware, describe, measure, run_firmware
from small_harness.models.litert import model_disagreement, model_rtol
from small_harness.models.format import Model, memory_figures
from small_harness.models.kernel_report import layer_table, tables_line
from small_harness.runner.launch import start_runner
from small_harness.runner.client import SmallError
from small_harness.targets.types import Target, Variant
from small_harness.models.cache import ImportedModel, import_cached

INPUT_SEED = 0
TOP_CLASSES = 5
# The most input values run makes or reads: the library's default arena limit (SMALL_DEFAULT_MAX_ARENA_BYTES
# in lib/include/small.h, 256 MiB) in float32 values. A model whose input alone is larger cannot load, and
# its random input would be allocated first (a crafted file declaring 2^33 values asked numpy for 32 GiB).
MAX_INPUT_VALUES = (256 << 20) // 4


def input_size(model: Model) -> int:
    """The number of values of the model's input, from its declared shape; refused before anything is
    allocated where no input can be made (a dimension below 1) or where it would be absurdly large."""
    shape = model.shapes[model.input]
    declared = model.input_layout or shape
    if any(d < 1 for d in shape):
        raise HarnessError(f"the model input has shape {declared}: every dimension must be at least 1; the model "
                           "file is damaged")
    size = math.prod(shape)
    if size > MAX_INPUT_VALUES:
        raise HarnessError(f"the model input {declared} has {size:,} values ({4 * size:,} bytes as float32), over the "
                           f"library's default arena limit of {MAX_INPUT_VALUES:,} float32 values (256 MiB): the model "
                           "cannot run; no input is made")
    return size


def model_input(model: Model, input_path: Path | None) -> np.ndarray:
    """The input from a .npy file (any shape with the model input's size), else a fixed-seed
    uniform [0, 1) tensor. Its size is checked against the model's declared shape before either is
    made or read."""
    shape = model.shapes[model.input]
    size = input_size(model)
    if input_path is None:
        return np.random.default_rng(INPUT_SEED).random(shape, dtype=np.float32)
    data = _load_array(input_path)
    if data.dtype.kind not in "biuf":  # bool, signed, unsigned, float
        raise HarnessError(f"{input_path}: holds {data.dtype} values; the model takes real numbers (float32, or any "
                           "integer or float type, converted)")
    if data.size != size:
        raise HarnessError(f"{input_path}: {data.shape} has {data.size} values; the model input "
                           f"{model.input_layout} needs {size}")
    return np.array(data, dtype=np.float32, order="C").reshape(shape)  # a copy: the file's mapping is let go


def _load_array(input_path: Path) -> np.ndarray:
    """The array of a .npy file, memory-mapped: its size is checked before its data is read, so a header
    that declares terabytes is not allocated. A .npz archive is refused, even of one array: run takes one
    .npy file, the format np.save writes, and does not guess which array of an archive is meant."""
    try:
        data = np.load(input_path, mmap_mode="r")
    except EOFError:
        raise HarnessError(f"{input_path}: empty: not a .npy array; write the input with np.save") from None
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise HarnessError(f"{input_path}: cannot read a .npy array ({error})") from None
    if isinstance(data, np.lib.npyio.NpzFile):
        with data:
            names = ", ".join(data.files) or "none"
        raise HarnessError(f"{input_path}: a .npz archive (arrays: {names}), not a single array; save the input "
                           "with np.save to a .npy file")
    return data


def check_output_path(output_path: Path) -> Path:
    """The file the output goes to (the name np.save would use: it adds .npy), refused before anything runs
    if it cannot be written."""
    target = output_path if output_path.suffix == ".npy" else output_path.with_name(output_path.name + ".npy")
    folder = target.parent
    if output_path.is_dir():
        raise HarnessError(f"--output {output_path} is a directory; give a file name such as {output_path / 'out.npy'}")
    if not folder.is_dir():
        raise HarnessError(f"--output {output_path}: the directory {folder} does not exist")
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise HarnessError(f"--output {output_path}: {target} cannot be written (permission denied)")
    return target


def _special_counts(array: np.ndarray) -> str:
    """ "3 NaN, 1 Inf", or "" when every value is finite."""
    nans, infs = int(np.isnan(array).sum()), int(np.isinf(array).sum())
    return ", ".join(part for part in (f"{nans} NaN" if nans else "", f"{infs} Inf" if infs else "") if part)


def run_model(path: Path, target: Target, variant: Variant | None, backend: Backend, input_path: Path | None,
              output_path: Path | None) -> np.ndarray:
    """One inference on the target: on `variant` (its kernel table forced, its CPU), or with None on the
    default CPU with the library's own choice of tables."""
    saved_to = check_output_path(output_path) if output_path is not None else None
    imported = import_cached(path)
    model = imported.model
    print(f"model: {path} ({len(model.nodes)} layers, input {model.input_layout}, output {model.output_layout}), "
          f"imported to {relative(imported.cache_path)}", flush=True)
    x = model_input(model, input_path)  # a bad input is refused before the build
    if target.is_bare_metal:
        output = _run_firmware(path, imported, target, backend, x)
        _report_output(output, x, saved_to, output_path)
        return output
    result = build(target, backend)
    with start_runner(target, variant, backend, result.runner) as runner:
        info = runner.info()
        try:
            loaded = runner.load_model(imported.file)
            reply = runner.run_model(x)
        except SmallError as error:
            where = variant.label if variant is not None else target.name
            raise HarnessError(f"{path.name} on {where}: {error}" +
                               (f" ({info.select_error})" if info.select_error else "")) from None
    print(tables_line(info, _variant_words(target, variant)))
    print(layer_table(model, loaded.kernels))
    output = reply.output.reshape(model.output_layout)
    figures = memory_figures(model)
    print(f"arena: {loaded.arena_bytes} bytes (naive sum of activations {figures.naive_bytes}, "
          f"lower bound {figures.lower_bound_bytes})")
    if not target.emulated(variant):
        print(f"time: {reply.elapsed_ns / 1e6:.3f} ms for one inference ({target.name}, native)")
    else:
        counts = (f"; exact instruction counts per layer: invoke bench.counts --arch {target.name}"
                  if target.counts is not None else "")
        print(f"time: not measured: under QEMU wall time means nothing ({reply.elapsed_ns / 1e6:.1f} ms emulated)"
              + counts)
    _report_output(output, x, saved_to, output_path)
    return output


def _variant_words(target: Target, variant: Variant | None) -> str:
    """ "aarch64@sve-vlen512 (SMALL_KERNELS=sve, -cpu max,sve512=on)", or "x86_64 (default)": the library's
    own choice of tables on the target's default CPU."""
    if variant is None:
        return f"{target.name} (default)"
    how = [f"{key}={value}" for key, value in variant.environment().items()]
    how += [f"-cpu {variant.cpu}"] if variant.cpu else []
    return variant.label + (f" ({', '.join(how)})" if how else "")


def _run_firmware(path: Path, imported: ImportedModel, target: Target, backend: Backend, x: np.ndarray) -> np.ndarray:
    """A bare-metal target: the model embedded in a firmware image, one inference, checked against
    LiteRT, and what it used of the board's memory."""
    firmware = build_firmware(target, backend, path.stem, imported.file)
    run = run_firmware(firmware, backend, x)
    model = imported.model
    output = run.output.reshape(model.output_layout)
    print(f"firmware: {relative(firmware.elf)} (the model in flash), one inference under "
          f"{' '.join(target.emulator_command()[1:4])}")
    for line in describe(target, measure(firmware, run)):
        print(line)
    why = model_disagreement(path, model, x, output)
    if why:
        raise HarnessError(f"{path.name} on {target.name}: the output differs from LiteRT's: {why}")
    print(f"matches LiteRT (within {model_rtol(model):g} of the output scale)")
    return output


def _report_output(output: np.ndarray, x: np.ndarray, saved_to: Path | None, output_path: Path | None) -> None:
    scores = output.ravel()
    specials = _special_counts(scores)
    if specials:
        inputs = _special_counts(x)
        print(f"warning: the output holds {specials} values"
              + (f" (the input holds {inputs}: NaN propagates, see docs/RELIABILITY.md)" if inputs else ""))
    elif scores.size <= 1000:
        top = np.argsort(-scores, kind="stable")[:TOP_CLASSES]
        print("top classes: " + ", ".join(f"{int(c)} ({scores[c]:.4f})" for c in top))
    if saved_to is not None:
        try:
            save_array_atomically(saved_to, output)  # a full disk leaves the previous file, not a truncated one
        except OSError as error:
            raise HarnessError(f"--output {output_path}: cannot write ({error.strerror})") from None
        print(f"output: {output.shape} written to {saved_to}")

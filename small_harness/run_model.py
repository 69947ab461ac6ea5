"""`invoke run --model M.tflite --arch A`: import the model (cached), build the target, run one
inference through the library's own runtime, and report the prediction, the arena and the time."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .backends import Backend
from .build import build
from .errors import HarnessError
from .firmware import build_firmware, describe, measure, run_firmware
from .litert_reference import model_disagreement, model_rtol
from .model_format import Model, encode, memory_figures
from .repro import start_runner
from .runner import SmallError
from .targets import REPO_ROOT, Target
from .tflite_import import import_tflite

CACHE_DIR = REPO_ROOT / "build" / "models"
INPUT_SEED = 0
TOP_CLASSES = 5


@dataclass(frozen=True)
class ImportedModel:
    model: Model
    file: bytes  # the library's model file
    cache_path: Path


def import_cached(path: Path) -> ImportedModel:
    """Imports a .tflite file, keeping the library's model file in build/models/ by content hash so
    an unchanged model is not converted again."""
    model = import_tflite(path)  # parsing is fast; the cache is the converted file for other tools
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    cache_path = CACHE_DIR / f"{path.stem}-{digest}.smlm"
    if cache_path.is_file():
        return ImportedModel(model, cache_path.read_bytes(), cache_path)
    data = encode(model)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cache_path.write_bytes(data)
    return ImportedModel(model, data, cache_path)


def model_input(model: Model, input_path: Path | None) -> np.ndarray:
    """The input from a .npy file (any shape with the model input's size), else a fixed-seed
    uniform [0, 1) tensor."""
    shape = model.shapes[model.input]
    if input_path is None:
        return np.random.default_rng(INPUT_SEED).random(shape, dtype=np.float32)
    try:
        data = np.load(input_path)
    except (OSError, ValueError) as error:
        raise HarnessError(f"{input_path}: cannot read a .npy array ({error})") from None
    if data.dtype.kind not in "biuf":  # bool, signed, unsigned, float
        raise HarnessError(f"{input_path}: holds {data.dtype} values; the model takes real numbers (float32, or any "
                           "integer or float type, converted)")
    if data.size != int(np.prod(shape)):
        raise HarnessError(f"{input_path}: {data.shape} has {data.size} values; the model input "
                           f"{model.input_layout} needs {int(np.prod(shape))}")
    return np.ascontiguousarray(data, dtype=np.float32).reshape(shape)


def check_output_path(output_path: Path) -> Path:
    """Where np.save will write (it adds .npy), refused before anything runs if it cannot be written."""
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


def run_model(path: Path, target: Target, backend: Backend, input_path: Path | None,
              output_path: Path | None) -> np.ndarray:
    saved_to = check_output_path(output_path) if output_path is not None else None
    imported = import_cached(path)
    model = imported.model
    print(f"model: {path} ({len(model.nodes)} layers, input {model.input_layout}, output {model.output_layout}), "
          f"imported to {imported.cache_path.relative_to(REPO_ROOT)}", flush=True)
    x = model_input(model, input_path)  # a bad input is refused before the build
    if target.is_bare_metal:
        output = _run_firmware(path, imported, target, backend, x)
        _report_output(output, x, saved_to, output_path)
        return output
    result = build(target, backend)
    with start_runner(target, None, backend, result.runner) as runner:
        try:
            loaded = runner.load_model(imported.file)
            reply = runner.run_model(x)
        except SmallError as error:
            raise HarnessError(f"{path.name} on {target.name}: {error}") from None
    output = reply.output.reshape(model.output_layout)
    figures = memory_figures(model)
    print(f"arena: {loaded.arena_bytes} bytes (naive sum of activations {figures.naive_bytes}, "
          f"lower bound {figures.lower_bound_bytes})")
    if target.is_native:
        print(f"time: {reply.elapsed_ns / 1e6:.3f} ms for one inference ({target.name}, native)")
    else:
        print(f"time: not measured: under QEMU wall time means nothing ({reply.elapsed_ns / 1e6:.1f} ms emulated); "
              f"exact instruction counts per layer: invoke bench --arch {target.name} --toolchain host")
    _report_output(output, x, saved_to, output_path)
    return output


def _run_firmware(path: Path, imported: ImportedModel, target: Target, backend: Backend, x: np.ndarray) -> np.ndarray:
    """A bare-metal target: the model embedded in a firmware image, one inference, checked against
    LiteRT, and what it used of the board's memory."""
    firmware = build_firmware(target, backend, path.stem, imported.file)
    run = run_firmware(firmware, backend, x)
    model = imported.model
    output = run.output.reshape(model.output_layout)
    print(f"firmware: {firmware.elf.relative_to(REPO_ROOT)} (the model in flash), one inference under "
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
              + (f" (the input holds {inputs}: NaN propagates, see README)" if inputs else ""))
    elif scores.size <= 1000:
        top = np.argsort(-scores, kind="stable")[:TOP_CLASSES]
        print("top classes: " + ", ".join(f"{int(c)} ({scores[c]:.4f})" for c in top))
    if saved_to is not None:
        try:
            np.save(saved_to, output)
        except OSError as error:
            raise HarnessError(f"--output {output_path}: cannot write ({error.strerror})") from None
        print(f"output: {output.shape} written to {saved_to}")

"""The harness's shape, as tests: subpackages by concern with no import cycle, each saying its job; one
helper for one thing (the repository-relative path, the JUnit writer); and the constants C and Python
share (the model file's words, the runner's commands and fields, the statuses and codes of small.h),
read from the C sources and compared with the Python ones, so that neither side drifts."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from small_harness.core.paths import HARNESS_DIR, REPO_ROOT
from small_harness.models import format as model_format
from small_harness.runner import layers as L
from small_harness.runner import protocol

MODULES = sorted(HARNESS_DIR.rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            lines |= {n.lineno for n in ast.walk(node) if hasattr(n, "lineno")}
    return lines


def _imports(path: Path, known: set[str]) -> set[str]:
    """The harness modules a module imports, anywhere in it (a function's imports too), but not those
    only for type checking."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("small_harness"):
            assert node.level == 0, f"{path}: relative import"
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in known else node.module)
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("small_harness")}
    return found & known


def test_no_module_imports_one_that_imports_it_back() -> None:
    known = {_module_name(path) for path in MODULES}
    graph = {_module_name(path): _imports(path, known) - {_module_name(path)} for path in MODULES}
    # Tarjan's strongly connected components: any of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in graph:
        if module not in index:
            visit(module)
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("package", sorted(p.parent for p in HARNESS_DIR.rglob("__init__.py")),
                         ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_each_package_says_its_one_job_and_holds_no_code(package: Path) -> None:
    tree = ast.parse((package / "__init__.py").read_text())
    assert ast.get_docstring(tree), f"{package}/__init__.py has no docstring"
    assert len(tree.body) == 1, f"{package}/__init__.py holds code besides its docstring"


def test_every_module_has_a_docstring() -> None:
    missing = [str(p.relative_to(REPO_ROOT)) for p in MODULES if not ast.get_docstring(ast.parse(p.read_text()))]
    assert not missing


def _sources_containing(pattern: str) -> list[str]:
    files = MODULES + [REPO_ROOT / "tasks.py"]
    return sorted(str(p.relative_to(REPO_ROOT)) for p in files if re.search(pattern, p.read_text()))


def test_one_helper_makes_paths_relative_to_the_repository() -> None:
    assert _sources_containing(r"relative_to\(REPO_ROOT\)") == ["small_harness/core/paths.py"]


def test_one_writer_writes_junit_files() -> None:
    assert _sources_containing(r"Element\(\s*\"testsuite\"") == ["small_harness/core/junit.py"]


# ---- constants shared with C -------------------------------------------------------------------

def c_enums(path: Path, known: dict[str, int] | None = None) -> dict[str, int]:
    """Every enumerator of every enum in a C file, and every #define of a number, with its value (NAME,
    NAME = number, NAME = OTHER + n), names of `known` (another header's) resolved too."""
    text = re.sub(r"/\*.*?\*/", "", path.read_text(), flags=re.S)
    values: dict[str, int] = dict(known or {})
    values |= {name: int(number) for name, number in re.findall(r"#define\s+(\w+)\s+(\d+)\s*$", text, flags=re.M)}
    for body in re.findall(r"\benum\s*\w*\s*\{(.*?)\}", text, flags=re.S):
        following = 0
        for item in (part.strip() for part in body.split(",")):
            if not item:
                continue
            name, _, expression = (word.strip() for word in item.partition("="))
            if expression:
                try:  # literals, + - * / <<, and names resolved above; else not a constant we compare
                    expression = re.sub(r"\b[A-Z_][A-Z0-9_]*\b", lambda m: str(values[m.group(0)]), expression)
                    following = int(eval(re.sub(r"(\d)u\b", r"\1", expression)))
                except (KeyError, SyntaxError, NameError):
                    continue
            values[name] = following
            following += 1
    return values


SMALL_H = c_enums(REPO_ROOT / "lib" / "include" / "small.h")
MODEL_FILE_H = c_enums(REPO_ROOT / "lib" / "src" / "model_file.h", SMALL_H)
RUNNER_C = c_enums(REPO_ROOT / "lib" / "runner" / "runner.c", SMALL_H)


def test_statuses_ops_paddings_and_activations_are_those_of_small_h() -> None:
    assert protocol.STATUS_NAMES == {value: name for name, value in SMALL_H.items() if name.startswith("SMALL_OK")
                                     or name.startswith("SMALL_ERR_")}
    ops = {name.removeprefix("SMALL_OP_"): value for name, value in SMALL_H.items()
           if name.startswith("SMALL_OP_") and not name.endswith("COUNT_")}
    layer_ops = {"CONV2D": L.Conv2D, "MAXPOOL": L.MaxPool, "AVGPOOL": L.AvgPool, "GLOBAL_AVGPOOL": L.GlobalAvgPool,
                 "FULLY_CONNECTED": L.FullyConnected, "ADD": L.Add, "ACTIVATION": L.Activate, "SOFTMAX": L.Softmax,
                 "CONCAT": L.Concat, "RESHAPE": L.Reshape}
    assert {layer_ops[name]: value for name, value in ops.items()} == protocol.OP_CODES
    assert (protocol.PADDING_VALID, protocol.PADDING_SAME, protocol.PADDING_EXPLICIT) == (
        SMALL_H["SMALL_PAD_VALID"], SMALL_H["SMALL_PAD_SAME"], SMALL_H["SMALL_PAD_EXPLICIT"])
    assert protocol.ACTIVATION_CODES == {name.removeprefix("SMALL_ACT_").lower(): value
                                         for name, value in SMALL_H.items() if name.startswith("SMALL_ACT_")}


def test_the_runner_commands_and_fields_are_those_of_runner_c() -> None:
    assert protocol.MAGIC == RUNNER_C["MAGIC"]
    commands = {name: value for name, value in RUNNER_C.items() if name.startswith("CMD_")}
    assert commands == {name: getattr(protocol, name) for name in commands}
    assert len(commands) == len([name for name in vars(protocol) if name.startswith("CMD_")])
    fields = sorted((value, name) for name, value in RUNNER_C.items() if name.startswith("F_") and name != "F_COUNT")
    # The C enum names the first field of a group (F_INPUT_SHAPES); Python names every word.
    for (value, name), (next_value, _) in zip(fields, fields[1:] + [(RUNNER_C["F_COUNT"], "")]):
        python = protocol.FIELDS[value:next_value]
        if next_value - value == 1:
            assert python == [name.removeprefix("F_").lower()], name
        else:
            assert python == [f"input{i}_{axis}" for i in range(protocol.MAX_INPUTS) for axis in "hwc"], name
    assert len(protocol.FIELDS) == RUNNER_C["F_COUNT"]
    assert protocol.MAX_INPUTS == SMALL_H["SMALL_MAX_INPUTS"]


def test_the_model_file_words_are_those_of_model_file_h() -> None:
    assert model_format.VERSION == MODEL_FILE_H["SMALL_FILE_VERSION"]
    assert model_format.VERSION_PACKED == MODEL_FILE_H["SMALL_FILE_VERSION_PACKED"]
    assert model_format.HEADER_WORDS == MODEL_FILE_H["SMALL_FILE_HEADER_WORDS"]
    assert model_format.SIGNATURE_WORDS == MODEL_FILE_H["SMALL_FILE_SIG_WORDS"]
    assert model_format.LAYER_WORDS == MODEL_FILE_H["SMALL_FILE_LAYER_WORDS"]
    words = sorted((value, name.removeprefix("SMALL_FILE_L_").lower()) for name, value in MODEL_FILE_H.items()
                   if name.startswith("SMALL_FILE_L_"))
    after_output = [name for value, name in words if value > MODEL_FILE_H["SMALL_FILE_L_OUTPUT"]]
    assert after_output == [*model_format.LAYER_FIELD_WORDS, "alpha", "weights", "bias"]
    assert [name for _, name in words[:3]] == ["op", "n_inputs", "inputs"]
    assert MODEL_FILE_H["SMALL_FILE_L_OUTPUT"] == 2 + protocol.MAX_INPUTS

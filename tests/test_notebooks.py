"""The committed ``notebooks/*.ipynb`` are the source: these tests read them as people edit them in Jupyter.

Execution is ``UMI_LAB_SMOKE=1 pytest --nbmake notebooks/`` in CI; ruff lints the notebooks with the rest of the
code (``tests/test_project.py``); ``nbstripout`` (also a pre-commit hook) keeps outputs out of the repository.
"""

import ast
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = ["01_data_splitting.ipynb", "02_glpft_training.ipynb", "03_ablations.ipynb",
            "04_trajectory_replay.ipynb", "05_real_benchmarks.ipynb"]

# What a notebook may import besides umi_lab: the standard library's os/pathlib, pandas for display, IPython.
ALLOWED_IMPORTS = {"os", "pathlib", "pandas", "IPython", "IPython.display"}


def _load(path):
    return nbformat.read(str(path), as_version=4)


def notebook_logic_problems(nb) -> list[str]:
    """Why a notebook holds logic of its own or reaches past the public API; ``[]`` when it does not.

    The rule: code cells are glue. They set parameters, import *public* names (no leading underscore) from
    ``umi_lab`` or a few display/stdlib modules (``ALLOWED_IMPORTS``), call them and display the results. A
    function, class or lambda, a ``sys.path`` change, or a private attribute (``x._name``) means logic that
    lives only in the notebook; it belongs in the library, where it is tested and linted.
    """
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            where = f"cell {i}, line {getattr(node, 'lineno', '?')}"
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
                problems.append(f"{where}: defines {type(node).__name__} (move it to umi_lab)")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                module = node.module if isinstance(node, ast.ImportFrom) else None
                names = [module] if module else [a.name for a in node.names]
                for name in names:
                    if name.split(".")[0] != "umi_lab" and name not in ALLOWED_IMPORTS:
                        problems.append(f"{where}: imports {name}")
                    if any(part.startswith("_") for part in name.split(".")):
                        problems.append(f"{where}: imports private module {name}")
                if module:
                    problems += [f"{where}: imports private name {a.name}" for a in node.names
                                 if a.name.startswith("_")]
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                problems.append(f"{where}: uses private attribute {node.attr}")
            elif isinstance(node, ast.Attribute) and node.attr == "path" and getattr(node.value, "id", "") == "sys":
                problems.append(f"{where}: touches sys.path (the package is installed)")
    return problems


def test_all_numbered_notebooks_exist_and_no_generator():
    assert sorted(p.name for p in NB_DIR.glob("*.ipynb")) == EXPECTED
    assert not list(NB_DIR.glob("*.py")), "the .ipynb files are the source; no generator script"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_structure(name):
    nb = _load(NB_DIR / name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "committed with outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code", "exactly one cell tagged `parameters`"
    assert 'os.environ.get("UMI_LAB_SMOKE"' in tagged[0].source                 # the smoke switch
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {name[:2]} ")
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3                # narrated
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebooks_only_call_the_public_api(name):
    nb = _load(NB_DIR / name)
    assert notebook_logic_problems(nb) == []
    src = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "from umi_lab" in src or "import umi_lab" in src
    assert "sys.path" not in src and not re.search(r"^\s*import sys\b", src, re.M)


def test_the_logic_rule_catches_what_it_names():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import sys\nsys.path.insert(0, '..')"),
        nbformat.v4.new_code_cell("def helper(x):\n    return x\n\nsquare = lambda x: x * x"),
        nbformat.v4.new_code_cell("from umi_lab.study import _cli\nfrom umi_lab import _private\nimport numpy"),
        nbformat.v4.new_code_cell("from umi_lab.study import prepare_data\ninfo = prepare_data._cache"),
    ])
    found = "\n".join(notebook_logic_problems(nb))
    for expected in ("imports sys", "sys.path", "FunctionDef", "Lambda", "private name _cli",
                     "private name _private", "imports numpy", "private attribute _cache"):
        assert expected in found, expected
    clean = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from umi_lab.study import StudyConfig, prepare_data\ninfo = prepare_data(StudyConfig(), 'out')")])
    assert notebook_logic_problems(clean) == []


def _nbstripout_verify(paths) -> subprocess.CompletedProcess:
    pytest.importorskip("nbstripout")
    return subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *map(str, paths)],
                          capture_output=True, text=True)


def test_committed_notebooks_are_stripped_by_nbstripout():
    """The CI twin of the pre-commit hook: ``nbstripout --verify`` would change nothing."""
    proc = _nbstripout_verify(NB_DIR / n for n in EXPECTED)
    assert proc.returncode == 0, f"run `nbstripout notebooks/*.ipynb`:\n{proc.stdout}{proc.stderr}"


def test_nbstripout_verify_flags_a_notebook_saved_with_outputs(tmp_path):
    path = tmp_path / EXPECTED[0]
    shutil.copy(NB_DIR / EXPECTED[0], path)
    raw = json.loads(path.read_text())
    cell = next(c for c in raw["cells"] if c["cell_type"] == "code")
    cell["execution_count"] = 3
    cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["smoke mode\n"]}]
    path.write_text(json.dumps(raw, indent=1))
    assert _nbstripout_verify([path]).returncode != 0


def test_real_benchmarks_notebook_has_model_parameter():
    nb = _load(NB_DIR / "05_real_benchmarks.ipynb")
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])][0]
    assert re.search(r"^MODEL = ", params.source, re.M)

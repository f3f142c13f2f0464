"""Structure of the study notebooks (their execution is ``UMI_LAB_SMOKE=1 pytest --nbmake notebooks/`` in CI)."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

NB_DIR = Path(__file__).resolve().parent.parent / "notebooks"
EXPECTED = ["01_data_splitting.ipynb", "02_glpft_training.ipynb", "03_ablations.ipynb",
            "04_trajectory_replay.ipynb", "05_real_benchmarks.ipynb"]


def _load(name):
    return nbformat.read(str(NB_DIR / name), as_version=4)


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", NB_DIR / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_all_numbered_notebooks_exist_and_match_the_generator(tmp_path):
    assert sorted(p.name for p in NB_DIR.glob("*.ipynb")) == EXPECTED
    built = _builder().build(tmp_path)
    assert sorted(p.name for p in built) == EXPECTED
    for p in built:  # committed files are exactly what the generator writes
        assert p.read_text() == (NB_DIR / p.name).read_text(), f"{p.name}: rerun notebooks/build_notebooks.py"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_structure(name):
    nb = _load(name)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "committed with outputs"
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert 'os.environ.get("UMI_LAB_SMOKE"' in tagged[0].source                 # the smoke switch
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {name[:2]} ")
    assert sum(c.cell_type == "markdown" for c in nb.cells) >= 3                # narrated
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("name", EXPECTED)
def test_notebooks_only_call_the_library(name):
    """No function or class definitions live only in a notebook; every notebook imports umi_lab."""
    src = "\n".join(c.source for c in _load(name).cells if c.cell_type == "code")
    assert not re.search(r"^\s*(def|class)\s", src, re.M)
    assert "from umi_lab" in src or "import umi_lab" in src
    compile(src, name, "exec")                                                  # valid python


def test_real_benchmarks_notebook_has_model_parameter():
    params = [c for c in _load("05_real_benchmarks.ipynb").cells if "parameters" in c.metadata.get("tags", [])][0]
    assert re.search(r"^MODEL = ", params.source, re.M)

"""Every notebook (analyst notebooks and Voila apps) runs top to bottom and is stored clean."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").rglob("*.ipynb"))
NOTEBOOKS = [p for p in NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]


def test_there_are_notebooks():
    assert any(p.name == "01_screening.ipynb" for p in NOTEBOOKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{path.name}: strip outputs"


@pytest.fixture(scope="module")
def app_environment(tmp_path_factory):
    """The staff apps run against a copy of the sample registry, as a counsellor, on a fixed
    working day inside the sample's follow-up period."""
    from workbench.sample import prepare_registry

    url = str(tmp_path_factory.mktemp("registry") / "sample.sqlite")
    prepare_registry(url).engine.dispose()
    return {"WORKBENCH_DB": url, "WORKBENCH_USER": "counsellor_li", "WORKBENCH_TODAY": "2025-09-30"}


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[str(p.relative_to(ROOT)) for p in NOTEBOOKS])
def test_runs_top_to_bottom(path, request, monkeypatch):
    if "apps" in path.parts:
        for name, value in request.getfixturevalue("app_environment").items():
            monkeypatch.setenv(name, value)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors

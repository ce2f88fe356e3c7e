"""Every notebook (analyst notebooks and Voila apps) runs top to bottom and is stored clean."""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from workbench.handouts import analyst_notebooks, execute, problems_in, to_html, with_language
from workbench.narrative import Narrative, used_keys

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


APPS = [p for p in NOTEBOOKS if "apps" in p.parts]
ANALYST = analyst_notebooks(ROOT)


@pytest.mark.slow
@pytest.mark.parametrize("path", APPS, ids=[str(p.relative_to(ROOT)) for p in APPS])
def test_app_runs_top_to_bottom(path, request, monkeypatch):
    for name, value in request.getfixturevalue("app_environment").items():
        monkeypatch.setenv(name, value)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    assert not problems_in(nb)


def test_every_workshop_notebook_is_found_and_sets_its_language_first():
    assert [p.name[:2] for p in ANALYST] == [f"{i:02d}" for i in range(1, len(ANALYST) + 1)] and len(ANALYST) >= 7
    for path in ANALYST:
        with_language(nbformat.read(path, as_version=4), "en")  # raises without a LANG line in the first cell


@pytest.mark.parametrize("path", ANALYST, ids=[p.stem for p in ANALYST])
def test_the_whole_text_follows_lang(path):
    """No prose in Markdown cells but the bilingual title: every paragraph is a ``say`` call whose
    text exists in both languages, and every text of the notebook is shown somewhere."""
    nb = nbformat.read(path, as_version=4)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    used = used_keys(code)
    say = Narrative(path.stem, "en")
    assert sorted(set(used) - set(say.keys())) == []
    assert sorted(set(say.keys()) - set(used)) == []
    assert len(used) == len(set(used)), "a text used twice"
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert len(markdown) <= 1 and all(len(c.source.splitlines()) <= 2 for c in markdown), \
        "prose belongs in workbench/i18n/notebooks/<notebook>.yaml, shown with say(...)"
    assert any(k.startswith("exercises") for k in used), "an exercises section"


@pytest.mark.slow
@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("path", ANALYST, ids=[p.stem for p in ANALYST])
def test_workshop_notebook_runs_in_each_language_without_a_warning(path, lang, tmp_path):
    nb = execute(path, lang)
    assert problems_in(nb) == []
    shown = [o for c in nb.cells for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert len(shown) >= len(re.findall(r"""\bsay\(\s*["']""", code))  # every say(...) showed its paragraph
    text = "\n".join(o["data"]["text/markdown"] for o in shown)
    han = sum("\u4e00" <= ch <= "\u9fff" for ch in text)
    assert (han > len(text) / 10) if lang == "zh" else (han <= len(text) / 100), "the text is in the notebook's language"
    html = to_html(nb, title=path.stem)  # what `make handouts` writes
    assert "<img" in html or "image/png" in html
    (tmp_path / f"{path.stem}.{lang}.html").write_text(html, encoding="utf-8")

"""The notebooks' words: both languages, the same placeholders, every number filled in by name."""

import nbformat
import pytest

from workbench import handouts, narrative
from workbench.narrative import Narrative, NarrativeError, ci, pct


def test_every_notebook_text_file_is_complete_in_both_languages():
    stems = {p.stem for p in handouts.analyst_notebooks()}
    files = {p.stem for p in narrative.HERE.glob("*.yaml")}
    assert files <= stems, f"texts for notebooks that do not exist: {sorted(files - stems)}"
    for stem in files:
        assert narrative.texts(stem)  # checked on load


def test_a_missing_translation_or_placeholder_is_refused_by_name():
    with pytest.raises(NarrativeError, match=r"'q' has no text in \['zh'\]"):
        Narrative("x", "en", texts={"q": {"en": "Why?"}})
    with pytest.raises(NarrativeError, match="placeholders differ"):
        Narrative("x", "en", texts={"m": {"zh": "脱落 {dropout}", "en": "Dropout {drop}"}})
    say = Narrative("x", "zh", texts={"m": {"zh": "脱落 {dropout}", "en": "Dropout {dropout}"}})
    with pytest.raises(NarrativeError, match=r"missing \['dropout'\]"):
        say.text("m")
    with pytest.raises(NarrativeError, match="no text 'nope'"):
        say.text("nope")


def test_numbers_are_written_plainly_in_each_language():
    assert pct(0.20570570) == "20.6%" and pct(None) == "–"
    assert ci(0.1772, 0.2388, percent=True) == "95% CI 17.7% to 23.9%"
    assert ci(0.1772, 0.2388, percent=True, lang="zh") == "95% 置信区间 17.7%～23.9%"
    assert ci(0.5, float("inf")) == "95% CI not estimable"


def test_the_language_line_is_required_and_only_it_changes(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('LANG = "zh"  # "zh" or "en"\nX = "zh"')])
    out = handouts.with_language(nb, "en")
    assert out.cells[0].source == 'LANG = "en"  # "zh" or "en"\nX = "zh"' and nb.cells[0].source.startswith('LANG = "zh"')
    with pytest.raises(ValueError, match="first code cell must set the language"):
        handouts.with_language(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), "en")
    with pytest.raises(ValueError, match="'lang' parameter"):
        handouts.with_language(nb, "fr")


def test_problems_in_finds_errors_and_warnings():
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="FutureWarning: something\n"),
                    nbformat.v4.new_output("error", ename="TypeError", evalue="bad", traceback=[])]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert handouts.problems_in(nb) == ["cell 0: stderr: FutureWarning: something", "cell 0: TypeError: bad"]


def test_make_handouts_writes_one_html_per_notebook_and_language(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('LANG = "zh"  # "zh" or "en"'),
        nbformat.v4.new_code_cell('from workbench.narrative import Narrative\n'
                                  'say = Narrative("t", LANG, texts={"q": {"zh": "问题", "en": "The question"}})\nsay("q")')])
    path = tmp_path / "01_tiny.ipynb"
    nbformat.write(nb, path)
    written = handouts.write_handouts(tmp_path / "out", notebooks=[path])
    html = {p.name: p.read_text(encoding="utf-8") for p in written}
    assert sorted(html) == ["01_tiny.en.html", "01_tiny.zh.html"]
    assert "问题" in html["01_tiny.zh.html"] and "The question" in html["01_tiny.en.html"]
    bad = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('LANG = "zh"'),
                                          nbformat.v4.new_code_cell("import warnings; warnings.warn('careful')")])
    nbformat.write(bad, tmp_path / "02_bad.ipynb")
    with pytest.raises(RuntimeError, match=r"02_bad.ipynb \((en|zh)\): cell 1: stderr: .*careful"):
        handouts.write_handouts(tmp_path / "out", notebooks=[tmp_path / "02_bad.ipynb"])

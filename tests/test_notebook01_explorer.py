"""Notebook 01's explorer (section 7): a questionnaire without a screen-positive cut-off, or a
filter that leaves nobody, is said plainly in the notebook's language; no TypeError, no blank axes
(issue 20). The notebook's own code is run, up to and including the explorer cell."""

from pathlib import Path

import ipywidgets
import matplotlib
import nbformat
import pytest
from matplotlib.container import ErrorbarContainer

from workbench.prevalence import AGE_GROUPS

pytestmark = pytest.mark.slow  # runs the notebook's cells (about 15 s a language)

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_screening.ipynb"


@pytest.fixture(scope="module", params=["zh", "en"])
def explorer(request):
    """The notebook's namespace after the explorer cell, in one language, with what it displayed."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from workbench.handouts import with_language

    nb = with_language(nbformat.read(NOTEBOOK, as_version=4), request.param)
    cells = [c.source for c in nb.cells if c.cell_type == "code"]
    upto = next(i for i, source in enumerate(cells) if "def positive_by" in source)
    shown = []
    ns = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ipywidgets, "interact", lambda *args, **kwargs: None)  # no widget outside a kernel
        mp.setattr(plt, "show", lambda *args, **kwargs: None)
        mp.setattr("IPython.display.display", lambda *objs, **kwargs: shown.extend(objs))
        for source in cells[:upto + 1]:
            exec(compile(source, str(NOTEBOOK), "exec"), ns)
            ns["display"] = lambda *objs, **kwargs: shown.extend(objs)
            plt.close("all")
    return request.param, ns, shown


def _call(explorer, *args):
    import matplotlib.pyplot as plt

    lang, ns, shown = explorer
    del shown[:]
    plt.close("all")
    ns["positive_by"](*args)
    return lang, [getattr(o, "data", str(o)) for o in shown], plt.get_fignums()


def test_a_questionnaire_without_a_cut_off_is_refused_in_words_not_a_type_error(explorer):
    lang, said, figures = _call(explorer, "age_group", "k10", "")
    assert figures == [], "no chart (and no blank axes) for K10"
    assert len(said) == 1 and "K10" in said[0]
    assert ("没有筛查阳性界值" in said[0]) if lang == "zh" else ("no screen-positive cut-off" in said[0])


def test_a_filter_that_leaves_nobody_is_said_plainly(explorer):
    lang, said, figures = _call(explorer, "sex", "phq9", "no-such-community")
    assert figures == [] and len(said) == 1
    assert ("没有符合条件的居民" in said[0]) if lang == "zh" else ("No residents match" in said[0])


def test_a_real_choice_draws_one_chart_with_intervals(explorer):
    lang, said, figures = _call(explorer, "age_group", "phq9", "urban-01")
    assert said == [] and len(figures) == 1
    import matplotlib.pyplot as plt

    ax = plt.figure(figures[0]).axes[0]
    assert any(isinstance(c, ErrorbarContainer) for c in ax.containers), "the 95% CI as error bars"
    assert [label.get_text().split(" ")[0] for label in ax.get_yticklabels()] == list(AGE_GROUPS)
    plt.close("all")

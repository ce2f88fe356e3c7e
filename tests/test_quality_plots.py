"""workbench.quality_plots: run charts and funnel plots drawn from the numbers of workbench.spc,
in Chinese and English, from a quality result (gaps for months too few to judge or hidden)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from workbench import quality as q  # noqa: E402
from workbench import quality_plots as qp  # noqa: E402
from workbench import spc_runs  # noqa: E402
from workbench.report import suppress_quality  # noqa: E402
from workbench.sample import load_sample  # noqa: E402

MONTHS = [str(p) for p in pd.period_range("2025-01", "2025-12", freq="M")]


@pytest.fixture(scope="module")
def result():
    return q.compute(load_sample(), months=MONTHS, spc=False)


def _texts(ax) -> str:
    return "\n".join(t.get_text() for t in ax.texts) + "\n" + "\n".join(
        t.get_text() for t in ax.get_legend().get_texts())


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_run_chart_words_and_marks(lang):
    ax = qp.run_chart([4, 6, 4, 6, 4, 6, 8, 7, 8, 7, 8, 7, 5], labels=[f"m{k}" for k in range(13)], lang=lang,
                      target=7)
    text = _texts(ax)
    assert qp.WORDS[lang]["shift"].format(n=6) in text and qp.WORDS[lang]["median"] in text
    assert qp.WORDS[lang]["target"] in text
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "-"][-1] == 6  # the median
    plt.close("all")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_funnel_plot_names_the_outliers(lang):
    ax = qp.funnel_plot([10, 12, 35, 3], [50, 60, 80, 40], labels=["a", "b", "c", "d"], lang=lang)
    text = _texts(ax)
    assert qp.WORDS[lang]["above"].format(level="99.8%") in text and qp.WORDS[lang]["below"].format(level="95%") in text
    assert {a.get_text() for a in ax.texts if a.get_text() in "abcd"} == {"c", "d"}
    plt.close("all")
    ax = qp.funnel_plot([10, 12], [50, 60], labels=["a", "b"], lang=lang)
    assert qp.WORDS[lang]["none_outside"].format(level="95%") in _texts(ax)
    plt.close("all")


def test_indicator_charts_from_the_sample(result):
    shown = suppress_quality(result)
    ax = qp.indicator_run_chart(shown, "C1", lang="en")
    assert ax.get_title().startswith("C1 ")
    rows = shown[(shown["indicator"] == "C1") & (shown["community"] == "all")].sort_values("period")
    expected = spc_runs.run_chart_rules(pd.to_numeric(rows["value"], errors="coerce").where(
        rows["status"].isin(["ok", "alert"])).astype(float).to_numpy())
    assert ax.lines[-2].get_ydata()[0] == pytest.approx(expected["median"].iloc[0])  # median, then the target
    plt.close("all")
    ax = qp.indicator_funnel_plot(result, "C1", month="2025-12", lang="zh")
    communities = result[(result["indicator"] == "C1") & (result["period"] == "2025-12") &
                         (result["community"] != "all") & (result["denominator"] > 0)]
    f = spc_runs.funnel(communities["numerator"].astype(int).tolist(), communities["denominator"].astype(int).tolist(),
                   labels=communities["community"].tolist())
    assert f.attrs["centre"] == pytest.approx(communities["numerator"].sum() / communities["denominator"].sum())
    named = {t.get_text() for t in ax.texts} & set(f["label"])
    assert named == set(f.loc[f["signal"] != "", "label"])
    plt.close("all")
    with pytest.raises(ValueError, match="must be a proportion indicator"):
        qp.indicator_funnel_plot(result, "S2", month="2025-12")
    with pytest.raises(KeyError, match="no rows"):
        qp.indicator_run_chart(result, "C1", community="nowhere")


def test_a_hidden_count_is_a_gap_not_zero():
    ax = qp.run_chart([0.2, np.nan, 0.3, 0.25], lang="en")
    assert np.isnan(ax.collections[0].get_offsets()[1][1]) or len(ax.lines[0].get_xdata()) == 3
    plt.close("all")


def test_a_unit_at_100_percent_is_not_flagged_unless_its_tail_probability_is_small():
    # X1 in the sample: 10 of 10 against a centre near 85.7 %: P(10 of 10) = 0.857^10 = 0.21
    f = spc_runs.funnel([10, 50, 52], [10, 60, 60], labels=["small", "b", "c"])
    assert f.set_index("label").loc["small", "signal"] == ""
    assert f.set_index("label").loc["small", "value"] > f.set_index("label").loc["small", "upper_outer"]  # the line
    # every unit at 100 %: nothing is unusual
    assert (spc_runs.funnel([20, 30, 40], [20, 30, 40])["signal"] == "").all()
    # 60 of 60 against a centre of 50 %: P = 0.5^60, far beyond the 99.8 % limit
    f = spc_runs.funnel([60, 20, 25, 22], [60, 60, 60, 60], labels=list("wxyz")).set_index("label")
    assert f.loc["w", "signal"] == "above_outer"

"""km_plot, cif_plot and the Cox forest plot to survminer's standard (issue 20).

The number at risk is checked against R: ``tests/reference/km_plot/make_reference.R`` (run it
from the repository root) writes the data set and R's
``summary(survfit(Surv(days, event) ~ 1 / ~ arm), times = month ticks, extend = TRUE)$n.risk``.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from workbench import survival
from workbench.i18n import t
from workbench.plots import CURVE_KINDS, DAYS_PER_MONTH, MIN_AT_RISK, cif_plot, forest_plot, km_plot

REF = Path(__file__).parent / "reference" / "km_plot"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(REF / "data.csv")


@pytest.fixture(scope="module")
def r_n_risk():
    ref = pd.read_csv(REF / "n_risk.csv", keep_default_na=False)
    return {(g, int(m)): int(n) for g, m, n in ref[["group", "month", "n_risk"]].itertuples(index=False)}


def _table(fig) -> dict[tuple[float, float], str]:
    """The at-risk table's texts by (x, row)."""
    return {(round(float(x), 6), round(float(y))): text.get_text()
            for text in fig.axes[1].texts for x, y in [text.get_position()]}


def _ticks(fig) -> tuple[list[float], list[str]]:
    table = fig.axes[1]
    return list(table.get_xticks()), [label.get_text() for label in table.get_xticklabels()]


def _line(ax, gid):
    (line,) = [line for line in ax.get_lines() if line.get_gid() == gid]
    return line


# --- finding 1: whole-unit ticks, the number at risk AT them ------------------------------------

@pytest.mark.parametrize("break_by", [1, None])
def test_number_at_risk_is_r_n_risk_at_the_tick_positions(data, r_n_risk, break_by):
    for group, rows in ((None, {"": 0}), ("arm", {"intervention": 1, "usual_care": 0})):
        fig = km_plot(data, duration="days", event="event", group=group, break_by=break_by)
        positions, labels = _ticks(fig)
        assert labels == [f"{p:g}" for p in positions]               # the labels say where the ticks are
        assert all(float(p).is_integer() for p in positions) and positions[0] == 0
        assert positions[-1] <= data["days"].max() / DAYS_PER_MONTH
        if break_by == 1:
            assert positions == list(range(8))                         # 0..7 months (the last time is 7.03)
        table = _table(fig)
        for level, row in rows.items():
            drawn = [int(table[(round(p, 6), row)]) for p in positions]
            assert drawn == [r_n_risk[(level, int(p))] for p in positions], level


def test_other_time_units_have_whole_ticks_and_their_own_words(data):
    fig = km_plot(data, duration="days", event="event", time_unit="weeks", break_by=4, lang="zh")
    positions, labels = _ticks(fig)
    assert positions == [0, 4, 8, 12, 16, 20, 24, 28] and labels == ["0", "4", "8", "12", "16", "20", "24", "28"]
    assert fig.axes[1].get_xlabel() == "周"
    days = data["days"].to_numpy()
    assert [int(v) for v in _table(fig).values()] == [int((days >= p * 7).sum()) for p in positions]
    assert km_plot(data, duration="days", event="event", time_unit="days").axes[1].get_xlabel() == "Days"


# --- finding 2: tails stop at min_at_risk; the table keeps the true numbers -----------------------

def test_curves_stop_where_fewer_than_min_at_risk_are_at_risk(data, r_n_risk):
    assert MIN_AT_RISK == 5
    fig = km_plot(data, duration="days", event="event", break_by=1)
    x = _line(fig.axes[0], "curve:all").get_xdata()
    fifth_longest = np.sort(data["days"])[-5]                           # 5 at risk there, 4 just after
    assert x.max() == pytest.approx(fifth_longest / DAYS_PER_MONTH)
    assert (data["days"] >= fifth_longest).sum() == 5
    assert _table(fig)[(7.0, 0)] == str(r_n_risk[("", 7)]) == "1"     # the table still shows 1 at 7 months
    full = km_plot(data, duration="days", event="event", min_at_risk=1)
    assert _line(full.axes[0], "curve:all").get_xdata().max() == pytest.approx(data["days"].max() / DAYS_PER_MONTH)
    assert "5" in fig.axes[1].get_title(loc="left")                             # the cut is said on the figure


# --- finding 3: the endpoint's own words; 1 - S as cumulative incidence ---------------------------

def test_y_axis_names_the_endpoint_and_fun_event_draws_one_minus_s(data):
    still = km_plot(data, duration="days", event="event", kind="still_in_care", lang="zh")
    assert still.axes[0].get_ylabel() == "仍在服务中的比例" == CURVE_KINDS["still_in_care"]["zh"]
    assert km_plot(data, duration="days", event="event", kind="event_free").axes[0].get_ylabel() == \
        "Proportion free of the event"
    assert km_plot(data, duration="days", event="event", ylabel="Free of crises").axes[0].get_ylabel() == "Free of crises"
    fig = km_plot(data, duration="days", event="event", fun="event", min_at_risk=1, lang="zh")
    assert fig.axes[0].get_ylabel() == "累积发生率"
    curve = survival.km(data, duration="days", event="event")
    line = _line(fig.axes[0], "curve:all")
    np.testing.assert_allclose(line.get_ydata(), np.concatenate([[0], 1 - curve["survival"]]))
    np.testing.assert_allclose(line.get_xdata(), np.concatenate([[0], curve["time"] / DAYS_PER_MONTH]))


# --- finding 4: group levels in the chosen language -------------------------------------------------

def _legend(fig):
    return [text.get_text() for text in fig.axes[0].get_legend().get_texts()]


def test_group_levels_are_translated_and_labels_take_both_languages(data):
    fig = km_plot(data, duration="days", event="event", group="arm", lang="zh")
    assert _legend(fig) == ["干预组", "常规照护组"]
    assert [label.get_text() for label in fig.axes[1].get_yticklabels()] == ["常规照护组", "干预组"]
    named = km_plot(data, duration="days", event="event", group="arm", lang="en",
                    labels={"intervention": {"zh": "甲组", "en": "Group A"}, "usual_care": "Group B"})
    assert _legend(named) == ["Group A", "Group B"]
    d = data.assign(sex=np.where(data.index % 2, "female", "male"), tier=np.where(data.index % 3, 2, 3),
                    alone=data.index % 2 == 0)
    assert _legend(km_plot(d, duration="days", event="event", group="sex", lang="zh")) == ["女", "男"]
    assert _legend(km_plot(d, duration="days", event="event", group="tier", lang="zh")) == [t("tier_2", "zh"),
                                                                                             t("tier_3", "zh")]
    assert _legend(km_plot(d, duration="days", event="event", group="alone", lang="en")) == ["No", "Yes"]


# --- finding 5: an empty subset is a plain error ---------------------------------------------------

def test_an_empty_subset_is_a_plain_error_in_both_languages(data):
    with pytest.raises(ValueError, match="km_plot: the data have no rows.*widen"):
        km_plot(data.iloc[0:0], duration="days", event="event", group="arm")
    with pytest.raises(ValueError, match="数据中没有任何记录"):
        km_plot(data[data["arm"] == "nobody"], duration="days", event="event", lang="zh")
    with pytest.raises(ValueError, match="cif_plot: the data have no rows"):
        cif_plot(data.iloc[0:0], duration="days", event="event", causes={1: "x"})


# --- finding 6: the forest plot -------------------------------------------------------------------

@pytest.fixture(scope="module")
def cox_data():
    rng = np.random.default_rng(20)
    n = 300
    age = rng.uniform(40, 90, n).round()
    female = rng.integers(0, 2, n)
    days = rng.exponential(400 / np.exp(0.03 * (age - 65) + 0.4 * female)).round() + 1
    censor = rng.uniform(100, 700, n).round()
    return pd.DataFrame({"days": np.minimum(days, censor), "event": (days <= censor).astype(int), "age": age,
                         "female": female})


def test_forest_plot_draws_hr_per_unit_with_plain_ticks_a_line_at_1_and_the_numbers(cox_data):
    model = survival.cox(cox_data, duration="days", event="event", covariates=["age", "female"])
    ax = model.plot_forest(per={"age": 10}, lang="zh")
    s = model.summary
    z = stats.norm.ppf(0.975)
    per = np.array([10, 1])
    hr = np.exp(per * s["coef"].to_numpy())
    low, high = np.exp(per * (s["coef"] - z * s["se"]).to_numpy()), np.exp(per * (s["coef"] + z * s["se"]).to_numpy())
    points = _line(ax, "forest:hr")
    np.testing.assert_allclose(points.get_xdata(), hr)
    assert list(points.get_ydata()) == [1, 0]                           # first covariate on top
    texts = [text.get_text() for text in ax.texts if text.get_gid() == "forest:text"]
    assert texts == [f"{h:.2f} ({a:.2f}–{b:.2f})" for h, a, b in zip(hr, low, high)]
    assert [label.get_text() for label in ax.get_yticklabels()] == ["年龄（每增加10岁）", "女性（对比男性）"]
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    assert "1" in ticks and all(float(v) > 0 and "^" not in v and "10$" not in v for v in ticks)
    assert ax.get_xscale() == "log"
    assert list(_line(ax, "forest:null").get_xdata()) == [1, 1]
    assert "95%" in " ".join(text.get_text() for text in ax.texts)
    named = forest_plot(s, names={"age": {"en": "Age, per decade", "zh": "年龄（每10岁）"}}, per={"age": 10})
    assert [label.get_text() for label in named.get_yticklabels()] == ["Age, per decade", "Female (vs male)"]


# --- finding 7: cumulative incidence curves ---------------------------------------------------------

@pytest.fixture(scope="module")
def competing(data):
    causes = np.where(data["event"] == 1, np.where(data.index % 3 == 0, 2, 1), 0)
    return data.assign(cause=causes)


def test_cif_plot_draws_the_aalen_johansen_curves_and_the_at_risk_table(competing, r_n_risk):
    fig = cif_plot(competing, duration="days", event="cause", causes={1: "Dropout", 2: {"en": "Death", "zh": "死亡"}},
                   min_at_risk=1, break_by=1)
    for cause in (1, 2):
        curve = survival.cumulative_incidence(competing, duration="days", event="cause", cause=cause)
        line = _line(fig.axes[0], f"cif:{cause}")
        np.testing.assert_allclose(line.get_xdata(), np.concatenate([[0], curve["time"] / DAYS_PER_MONTH]))
        np.testing.assert_allclose(line.get_ydata(), np.concatenate([[0], curve["cif"]]))
    assert [int(v) for v in _table(fig).values()] == [r_n_risk[("", m)] for m in range(8)]
    assert fig.axes[0].get_ylabel() == "Cumulative incidence"

    grouped = cif_plot(competing, duration="days", event="cause", causes={1: "Dropout", 2: "Death"}, group="arm",
                       lang="zh", min_at_risk=1)
    assert len(grouped.axes) == 4                                       # a panel per cause, each with its table
    curve = survival.cumulative_incidence(competing, duration="days", event="cause", cause=2, group="arm")
    mine = curve[curve["group"] == "usual_care"]
    line = _line(grouped.axes[1], "cif:2:usual_care")
    np.testing.assert_allclose(line.get_ydata(), np.concatenate([[0], mine["cif"]]))
    assert [text.get_text() for text in grouped.axes[1].get_legend().get_texts()] == ["干预组", "常规照护组"]

    stacked = cif_plot(competing, duration="days", event="cause", causes={1: "Dropout", 2: "Death"}, stacked=True,
                       min_at_risk=1)
    one = survival.cumulative_incidence(competing, duration="days", event="cause", cause=1)["cif"].to_numpy()
    two = survival.cumulative_incidence(competing, duration="days", event="cause", cause=2)["cif"].to_numpy()
    np.testing.assert_allclose(_line(stacked.axes[0], "cif:2").get_ydata(), np.concatenate([[0], one + two]))


def test_cif_plot_curves_stop_at_min_at_risk(competing):
    fig = cif_plot(competing, duration="days", event="cause", causes={1: "Dropout"})
    assert _line(fig.axes[0], "cif:1").get_xdata().max() <= np.sort(competing["days"])[-5] / DAYS_PER_MONTH


# --- notebook 03's findings: the axis, rare events, a cause nobody had -----------------------------

def test_the_time_axis_runs_to_the_longest_follow_up_not_the_last_tick(data):
    fig = km_plot(data, duration="days", event="event", break_by=2)
    longest = data["days"].max() / DAYS_PER_MONTH
    ticks, _ = _ticks(fig)
    assert ticks[-1] < longest  # the last whole tick comes before the end of follow-up ...
    assert fig.axes[0].get_xlim()[1] >= longest  # ... and the curve is not cut there


def test_ylim_zooms_on_rare_events(data):
    fig = km_plot(data, duration="days", event="event", fun="event", ylim=(0, 0.1))
    assert fig.axes[0].get_ylim() == (0, 0.1)


def test_a_cause_nobody_had_is_drawn_flat_at_zero(competing):
    fig = cif_plot(competing, duration="days", event="cause", causes={1: "Dropout", 2: "Death", 3: "Completed"},
                   min_at_risk=1)
    line = _line(fig.axes[0], "cif:3")
    assert set(line.get_ydata()) == {0.0}

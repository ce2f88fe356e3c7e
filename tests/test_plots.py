"""Plots carry what the reader needs: risk table counts, labels in the chosen language."""

import matplotlib

matplotlib.use("Agg")

import warnings

import pandas as pd

from workbench.plots import km_plot


def test_km_plot_risk_table_and_chinese_labels():
    data = pd.DataFrame({"days": [30, 60, 90, 400, 500, 700, 45, 800], "event": [1, 1, 0, 1, 0, 1, 1, 0],
                         "arm": ["a"] * 4 + ["b"] * 4})
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")  # Chinese must render, not boxes
        fig = km_plot(data, duration="days", event="event", group="arm", lang="zh")
        fig.canvas.draw()
    curves, table = fig.axes
    counts = [text.get_text() for text in table.texts]
    assert counts.count("4") == 2                       # both arms start with 4 at risk
    assert any(text.get_text().startswith("Log-rank 检验 p") for text in curves.texts)
    assert table.get_xlabel() == "月" and curves.get_ylabel() == "生存概率"


# --- the dual-track chart (issue 15) ---------------------------------------------------------

import datetime as dt

import matplotlib.dates as mdates
import numpy as np
import pytest

from workbench.params import ParameterError
from workbench.plots import dual_track
from workbench.tables import TABLES, Tables, coerce


def _table(name, rows):
    frame = pd.DataFrame(rows).reindex(columns=TABLES[name].names)
    typed, problems = coerce(name, frame.astype(object).where(frame.notna(), None))
    assert problems == []
    return typed


def _resident(rid, birth, *, diabetes=False, ckd=False, hypertension=True):
    return {"resident_id": rid, "sex": "female", "birth_date": birth, "community": "urban-01",
            "lives_alone": False, "hypertension": hypertension, "diabetes": diabetes, "chd": False, "stroke": False,
            "copd": False, "asthma": False, "ckd": ckd}


def _reading(mid, rid, day, **values):
    return {"measurement_id": mid, "resident_id": rid, "measured_on": day, "setting": "clinic", "measured_by": "dr",
            **values}


def _score(aid, rid, day, instrument, score):
    return {"assessment_id": aid, "resident_id": rid, "assessed_on": day, "instrument": instrument, "score": score,
            "n_answered": 9 if instrument == "phq9" else 7, "prorated": False, "scoring_version": "1"}


@pytest.fixture
def dual_tables():
    residents = [_resident("R1", "1950-03-02"), _resident("R80", "1940-01-01"),
                 _resident("R80ckd", "1940-01-01", ckd=None), _resident("D1", "1960-05-05", diabetes=True,
                                                                        hypertension=False)]
    readings = [_reading("M1", "R1", "2025-01-10", sbp=152, dbp=94),
                _reading("M2", "R1", "2025-04-10", sbp=138, dbp=86),
                _reading("M3", "R1", "2025-07-10", weight_kg=61.5),          # no BP: left out, never 0
                _reading("M4", "R80", "2025-02-01", sbp=148, dbp=85),
                _reading("M5", "R80ckd", "2025-02-01", sbp=148, dbp=85),
                _reading("M6", "D1", "2025-03-01", fasting_glucose=8.2),
                _reading("M7", "D1", "2025-06-01", fasting_glucose=6.4)]
    scores = [_score("A1", "R1", "2025-01-10", "phq9", 12), _score("A2", "R1", "2025-01-10", "gad7", 8),
              _score("A3", "R1", "2025-04-10", "phq9", None), _score("A4", "R1", "2025-07-10", "phq9", 6)]
    scores[2]["n_answered"] = 5
    return Tables(residents=_table("residents", residents), measurements=_table("measurements", readings),
                  scores=_table("scores", scores))


def _lines(ax):
    return {line.get_gid(): line for line in ax.get_lines() if line.get_gid()}


def _days(line):
    return [mdates.num2date(x).date().isoformat() if not isinstance(x, (np.datetime64, pd.Timestamp, dt.date))
            else pd.Timestamp(x).date().isoformat() for x in line.get_xdata()]


def test_dual_track_draws_the_readings_the_scores_the_targets_and_thresholds(dual_tables):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Glyph .* missing")  # Chinese must render, not boxes
        fig = dual_track(dual_tables, "R1", measure="sbp", lang="zh")
        fig.canvas.draw()
    top, bottom = fig.axes
    assert top.get_shared_x_axes().joined(top, bottom)          # one time axis
    lines, low = _lines(top), _lines(bottom)
    assert _days(lines["reading:sbp"]) == ["2025-01-10", "2025-04-10"]  # the weight-only visit is left out
    assert list(lines["reading:sbp"].get_ydata()) == [152, 138] and list(lines["reading:dbp"].get_ydata()) == [94, 86]
    # REFERENCE.md "Chronic disease follow-up": controlled = SBP < 140 and DBP < 90 mmHg (aged 75 here)
    assert set(lines["target:sbp"].get_ydata()) == {140} and set(lines["target:dbp"].get_ydata()) == {90}
    # PHQ-9 and GAD-7 totals as stored; the unscorable PHQ-9 of 2025-04-10 is left out
    assert _days(low["score:phq9"]) == ["2025-01-10", "2025-07-10"] and list(low["score:phq9"].get_ydata()) == [12, 6]
    assert list(low["score:gad7"].get_ydata()) == [8]
    # screen-positive >= 10 for both (Kroenke 2001; Spitzer 2006), as declared
    assert set(low["threshold:phq9"].get_ydata()) == {10} and set(low["threshold:gad7"].get_ydata()) == {10}
    assert "血压" in top.get_ylabel() and "mmHg" in top.get_ylabel() and bottom.get_ylabel() == "问卷总分"
    assert "双轨管理表" in top.get_title() and "R1" in top.get_title()
    legend = [text.get_text() for text in bottom.get_legend().get_texts()]
    assert "PHQ-9 筛查阳性 ≥ 10" in legend


def test_dual_track_takes_the_target_the_policy_applies_to_the_resident(dual_tables):
    # REFERENCE.md: over-80s without diabetes or kidney disease < 150/90 (国家基层高血压防治管理指南 2017)
    over_80 = _lines(dual_track(dual_tables, "R80", lang="en").axes[0])
    assert set(over_80["target:sbp"].get_ydata()) == {150} and set(over_80["target:dbp"].get_ydata()) == {90}
    # kidney disease not recorded: not "without", so the general 140/90
    unknown_ckd = _lines(dual_track(dual_tables, "R80ckd", lang="en").axes[0])
    assert set(unknown_ckd["target:sbp"].get_ydata()) == {140}
    # diabetes: fasting glucose < 7.0 mmol/L
    glucose = dual_track(dual_tables, "D1", measure="fasting_glucose", lang="en")
    lines = _lines(glucose.axes[0])
    assert list(lines["reading:fasting_glucose"].get_ydata()) == [8.2, 6.4]
    assert set(lines["target:fasting_glucose"].get_ydata()) == {7.0} and "mmol/L" in glucose.axes[0].get_ylabel()
    assert "No PHQ-9 or GAD-7 recorded" in [t.get_text() for t in glucose.axes[1].texts]
    # no HbA1c target in the chronic-care policy: none drawn
    assert not any(g.startswith("target:") for g in _lines(dual_track(dual_tables, "D1", measure="hba1c").axes[0]))


def test_dual_track_names_a_bad_parameter(dual_tables):
    with pytest.raises(ValueError, match="The 'resident_id' parameter of dual_track must be a resident of the "
                                         "tables. Got 'R9' instead."):
        dual_track(dual_tables, "R9")
    with pytest.raises(ParameterError, match="'measure' parameter of dual_track must be one of"):
        dual_track(dual_tables, "R1", measure="bmi")


def test_proportion_chart_draws_the_interval_and_refuses_an_empty_table():
    import matplotlib.pyplot as plt

    from workbench.plots import proportion_chart

    table = pd.DataFrame({"age_group": ["18-39", "80+"], "n": [200, 50], "prevalence": [0.219, 0.402],
                          "ci_low": [0.167, 0.277], "ci_high": [0.281, 0.541]})
    ax = proportion_chart(table, by="age_group", lang="en", labels={"80+": "80 and over"})
    from matplotlib.container import BarContainer

    bars = next(c for c in ax.containers if isinstance(c, BarContainer))
    assert [round(float(b.get_width()), 1) for b in bars] == [21.9, 40.2]
    segments = bars.errorbar.lines[2][0].get_segments()  # one horizontal line per bar: low to high
    assert [(round(s[0][0], 1), round(s[1][0], 1)) for s in segments] == [(16.7, 28.1), (27.7, 54.1)]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["18-39 (n=200)", "80 and over (n=50)"]
    assert "95% CI" in ax.get_xlabel()
    plt.close("all")
    with pytest.raises(ValueError, match="no rows"):
        proportion_chart(table.iloc[0:0], by="age_group")

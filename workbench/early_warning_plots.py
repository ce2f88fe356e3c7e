"""Plots of the early-warning work, labelled in Chinese or English: a resident's wristband nights
against their own baseline, the risk model's calibration curve and its decision curve.

The numbers drawn come from the package, never from the plot: the ``wearable_days`` analysis
table (:func:`workbench.wearables.features.wearable_days`: z-scores, alert states, the rule), and a
:class:`workbench.risk.validation.ValidationReport` (``calibration_curve``: lowess as
``rms::val.prob``; ``decision_curve``: net benefit, Vickers & Elkin 2006). Each function draws on
``ax`` (or a new figure) and returns the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.params import FRAME, NonEmptyStr, Options, validate_params

__all__ = ["EARLY_WARNING_PLOT_WORDS", "calibration_plot", "decision_curve_plot", "wearable_plot"]

#: The plots' words, zh and en (kept here: workbench/i18n/strings.yaml is shared).
EARLY_WARNING_PLOT_WORDS = {
    "day": {"en": "Day", "zh": "日期"},
    "z": {"en": "{feature}: SD from own 28-day baseline", "zh": "{feature}：偏离本人近28天基线的标准差数"},
    "feature": {"rmssd_z": {"en": "Nocturnal RMSSD", "zh": "夜间心率变异性（RMSSD）"},
                "resting_hr_z": {"en": "Nocturnal resting heart rate", "zh": "夜间静息心率"},
                "steps_z": {"en": "Steps", "zh": "步数"},
                "sleep_z": {"en": "Sleep duration", "zh": "睡眠时长"}},
    "flag": {"en": "Flag (prompt to call)", "zh": "提醒（请电话问候）"},
    "low_wear": {"en": "Not worn enough", "zh": "佩戴不足"},
    "no_baseline": {"en": "No baseline yet", "zh": "尚无基线"},
    "bound": {"en": "Rule bound ({bound:+g} SD)", "zh": "规则界值（{bound:+g} 个标准差）"},
    "title_wear": {"en": "Resident {resident}: {feature}", "zh": "居民 {resident}：{feature}"},
    "predicted": {"en": "Predicted risk", "zh": "预测风险"},
    "observed": {"en": "Observed share (lowess)", "zh": "实际发生比例（lowess 平滑）"},
    "ideal": {"en": "Perfect calibration", "zh": "完全校准"},
    "calibration": {"en": "Calibration, {kind} model, {scheme} validation (n = {n})",
                    "zh": "校准曲线：{kind}模型，{scheme}验证（n = {n}）"},
    "threshold": {"en": "Risk threshold for acting", "zh": "采取行动的风险阈值"},
    "net_benefit": {"en": "Net benefit", "zh": "净获益"},
    "decision": {"en": "Decision curve, {kind} model, {scheme} validation",
                 "zh": "决策曲线：{kind}模型，{scheme}验证"},
    "strategy": {"model": {"en": "Use the model", "zh": "按模型"},
                 "treat_all": {"en": "Everyone", "zh": "所有人"},
                 "treat_none": {"en": "No one", "zh": "无人"}},
    "band_line": {"en": "{band} band from {cut:.0%}", "zh": "{band}风险段起点 {cut:.0%}"},
    "band": {"low": {"en": "Low", "zh": "低"}, "medium": {"en": "Medium", "zh": "中"}, "high": {"en": "High", "zh": "高"}},
    "kind": {"logistic": {"en": "penalised logistic", "zh": "惩罚逻辑回归"},
             "boosting": {"en": "gradient-boosted", "zh": "梯度提升"}},
    "scheme": {"temporal": {"en": "temporal", "zh": "时间外推"},
               "community": {"en": "leave-one-community-out", "zh": "留一社区"}},
}

LANG = Options("en", "zh")
KIND = Options("logistic", "boosting")
SCHEME = Options("temporal", "community")


def _w(key: str, lang: str, **fmt) -> str:
    return EARLY_WARNING_PLOT_WORDS[key][lang].format(**fmt)


def _named(group: str, key: str, lang: str) -> str:
    words = EARLY_WARNING_PLOT_WORDS[group].get(key)
    return words[lang] if words else str(key)


def _axes(ax, lang: str, size=(7, 4.5)):
    import matplotlib.pyplot as plt

    if lang == "zh":
        from workbench._fonts import use_cjk_font

        use_cjk_font()
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _rows(report, table: str, kind: str, scheme: str, function: str) -> pd.DataFrame:
    data = getattr(report, table, None)
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"{function}: pass a workbench.risk.validation.ValidationReport (it has no {table} table)")
    rows = data[(data["kind"] == kind) & (data["scheme"] == scheme)]
    if rows.empty:
        raise ValueError(f"{function}: the report has no {kind} model with {scheme} validation; it has "
                         f"{sorted(set(zip(data['kind'], data['scheme'])))}")
    return rows


@validate_params({"lang": LANG, "kind": KIND, "scheme": SCHEME})
def calibration_plot(report, *, kind: str = "logistic", scheme: str = "temporal", lang: str = "en", ax=None):
    """The flexible calibration curve (observed share against predicted risk) of one validation.

    Parameters
    ----------
    report : workbench.risk.validation.ValidationReport
    kind : {"logistic", "boosting"}
    scheme : {"temporal", "community"}
    lang : {"en", "zh"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The lowess curve of ``report.calibration_curve`` (as ``rms::val.prob``), the diagonal of
        perfect calibration and a rug of the predicted risks (``report.predictions``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from workbench.risk._toy import toy_report
    >>> ax = calibration_plot(toy_report())
    >>> ax.get_xlabel(), ax.get_ylabel()
    ('Predicted risk', 'Observed share (lowess)')
    """
    curve = _rows(report, "calibration_curve", kind, scheme, "calibration_plot").sort_values("predicted")
    predictions = _rows(report, "predictions", kind, scheme, "calibration_plot")
    predictions = predictions[predictions["y"].notna()]
    ax = _axes(ax, lang, size=(5.5, 5))
    top = float(max(curve["predicted"].max(), curve["observed"].max(), predictions["p"].max())) * 1.05
    top = min(1.0, max(top, 0.1))
    ax.plot([0, top], [0, top], color="0.6", linestyle="--", linewidth=1, label=_w("ideal", lang))
    ax.plot(curve["predicted"], curve["observed"], color="C0", linewidth=2, label=_w("observed", lang))
    ax.plot(predictions["p"], np.full(len(predictions), -0.02 * top), "|", color="0.3", markersize=6, alpha=0.4)
    ax.set_xlim(0, top)
    ax.set_ylim(-0.04 * top, top)
    ax.set_xlabel(_w("predicted", lang))
    ax.set_ylabel(_w("observed", lang))
    ax.set_title(_w("calibration", lang, kind=_named("kind", kind, lang), scheme=_named("scheme", scheme, lang),
                    n=len(predictions)))
    ax.legend(loc="upper left", frameon=False)
    return ax


@validate_params({"lang": LANG, "kind": KIND, "scheme": SCHEME})
def decision_curve_plot(report, *, kind: str = "logistic", scheme: str = "temporal", lang: str = "en",
                        bands: dict | None = None, ax=None):
    """Net benefit of acting on the model against acting for everyone and for no one.

    Parameters
    ----------
    report : workbench.risk.validation.ValidationReport
    kind, scheme : which validation (see :func:`calibration_plot`)
    lang : {"en", "zh"}
    bands : dict, optional
        Band -> lower cut-off (default the model spec's ``medium_from`` and ``high_from``), drawn as lines.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from workbench.risk._toy import toy_report
    >>> ax = decision_curve_plot(toy_report(), lang="en")
    >>> [t.get_text() for t in ax.get_legend().get_texts()][:3]
    ['Use the model', 'Everyone', 'No one']
    """
    curve = _rows(report, "decision_curve", kind, scheme, "decision_curve_plot")
    ax = _axes(ax, lang)
    styles = {"model": dict(color="C0", linewidth=2), "treat_all": dict(color="C1", linewidth=1.2),
              "treat_none": dict(color="0.4", linewidth=1, linestyle="--")}
    lows = []
    for strategy in ("model", "treat_all", "treat_none"):
        rows = curve[curve["strategy"] == strategy].sort_values("threshold")
        lows.append(rows["net_benefit"].min())
        ax.plot(rows["threshold"], rows["net_benefit"], label=_named("strategy", strategy, lang), **styles[strategy])
    model = curve[curve["strategy"] == "model"]
    high = float(max(model["net_benefit"].max(), curve.loc[curve["strategy"] == "treat_all", "net_benefit"].max(), 0.01))
    ax.set_ylim(max(min(lows), -0.3 * high), high * 1.15)   # treat-all falls far below 0 at high thresholds
    spec = getattr(report, "spec", None)
    cuts = bands if bands is not None else ({"medium": spec.medium_from, "high": spec.high_from} if spec else {})
    for band, cut in cuts.items():
        if band in ("medium", "high") and cut and float(cut) > 0:
            ax.axvline(float(cut), color="0.75", linewidth=1, linestyle=":")
            ax.text(float(cut), high * 1.1, _w("band_line", lang, band=_named("band", band, lang), cut=float(cut)) + " ",
                    fontsize=8, va="top", ha="right", rotation=90, color="0.35")
    ax.set_xlabel(_w("threshold", lang))
    ax.set_ylabel(_w("net_benefit", lang))
    ax.set_title(_w("decision", lang, kind=_named("kind", kind, lang), scheme=_named("scheme", scheme, lang)))
    ax.legend(loc="upper right", frameon=False)
    return ax


@validate_params({"days": FRAME, "resident": NonEmptyStr(), "lang": LANG,
                  "column": Options("rmssd_z", "resting_hr_z", "steps_z", "sleep_z")})
def wearable_plot(days: pd.DataFrame, *, resident: str, column: str = "rmssd_z", lang: str = "en",
                  bound: float | None = -2.0, ax=None):
    """One resident's nights against their own baseline: the z-score, the rule's bound, the days
    flagged, and the days without enough wear or without a baseline shown as such (never as normal).

    Parameters
    ----------
    days : DataFrame
        The ``wearable_days`` analysis table (or :func:`workbench.wearables.features.wearable_days`).
    resident : str
    column : {"rmssd_z", "resting_hr_z", "steps_z", "sleep_z"}
    lang : {"en", "zh"}
    bound : float or None
        The rule's bound drawn as a line (default -2, the default policy's RMSSD rule).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> d = pd.DataFrame({"resident_id": "R1", "day": pd.date_range("2025-03-01", periods=4).date,
    ...                   "rmssd_z": [0.1, None, -2.5, -2.2], "flag": [False, False, False, True],
    ...                   "alert_state": ["clear", "low_wear", "clear", "flag"]})
    >>> ax = wearable_plot(d, resident="R1")
    >>> ax.get_title()
    'Resident R1: Nocturnal RMSSD'
    """
    for needed in ("resident_id", "day", column, "alert_state"):
        if needed not in days.columns:
            raise ValueError(f"wearable_plot: days lacks the column {needed!r}; pass the wearable_days table")
    mine = days[days["resident_id"] == resident].sort_values("day")
    if mine.empty:
        raise ValueError(f"wearable_plot: no wristband days for resident {resident!r}")
    ax = _axes(ax, lang, size=(8, 3.8))
    when = pd.to_datetime(mine["day"])
    z = pd.to_numeric(mine[column], errors="coerce").astype(float)
    ax.plot(when, z, marker="o", markersize=3, linewidth=1, color="C0")
    state = mine["alert_state"].astype("string")
    for key, color in (("low_wear", "0.85"), ("no_baseline", "#e8eef7")):
        shown = False
        for day in when[(state == key).to_numpy()]:
            ax.axvspan(day - pd.Timedelta(hours=12), day + pd.Timedelta(hours=12), color=color, linewidth=0,
                       label=None if shown else _w(key, lang))
            shown = True
    flagged = (state == "flag").to_numpy()
    if flagged.any():
        ax.plot(when[flagged], z[flagged], linestyle="none", marker="v", markersize=9, color="C3", label=_w("flag", lang))
    if bound is not None:
        ax.axhline(bound, color="C3", linewidth=1, linestyle="--", label=_w("bound", lang, bound=bound))
    ax.axhline(0, color="0.6", linewidth=0.8)
    feature = _named("feature", column, lang)
    ax.set_ylabel(_w("z", lang, feature=feature))
    ax.set_xlabel(_w("day", lang))
    ax.set_title(_w("title_wear", lang, resident=resident, feature=feature))
    ax.legend(loc="lower left", frameon=False, fontsize=8)
    ax.figure.autofmt_xdate()
    return ax

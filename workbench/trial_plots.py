"""Plots of the 12-month trial, labelled in Chinese or English: the PHQ-9 trajectory by arm, the
cost-effectiveness plane and the cost-effectiveness acceptability curve.

The numbers drawn come from the package, never from the plot: :func:`workbench.trial.trajectory`
(means and t intervals, checked against R), :func:`workbench.economics.cost_effectiveness` with
``return_replicates=True`` (the bootstrap replicates) and :func:`workbench.economics.ceac`. Each
function draws on ``ax`` (or a new figure) and returns the Axes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.params import FRAME, NonEmptyStr, Optional, Options, validate_params

__all__ = ["TRIAL_PLOT_WORDS", "ce_plane", "ceac_plot", "trajectory_plot"]

#: The plots' words, zh and en (kept here: workbench/i18n/strings.yaml is shared).
TRIAL_PLOT_WORDS = {
    "month": {"en": "Month since randomisation", "zh": "随机分组后月数"},
    "mean_score": {"en": "Mean {score} (95% CI)", "zh": "{score} 平均分（95% 置信区间）"},
    "trajectory": {"en": "{score} by arm over the trial", "zh": "两组 {score} 随时间的变化"},
    "n": {"en": "n", "zh": "人数"},
    "delta_effect": {"en": "Incremental effect ({effect})", "zh": "增量效果（{effect}）"},
    "delta_cost": {"en": "Incremental cost ({currency})", "zh": "增量成本（{currency}）"},
    "plane": {"en": "Cost-effectiveness plane ({n} bootstrap replicates)",
              "zh": "成本效果平面（{n} 次自助抽样）"},
    "wtp_line": {"en": "Willingness to pay {wtp:,.0f} {currency}", "zh": "意愿支付 {wtp:,.0f} {currency}"},
    "wtp": {"en": "Willingness to pay per unit of effect ({currency})", "zh": "每单位效果的意愿支付（{currency}）"},
    "probability": {"en": "Probability cost-effective", "zh": "具有成本效果的概率"},
    "ceac": {"en": "Cost-effectiveness acceptability curve", "zh": "成本效果可接受曲线"},
    "effect": {"en": "remission", "zh": "缓解"},
    "currency": {"en": "yuan", "zh": "元"},
    "arms": {"intervention": {"en": "Intervention", "zh": "干预组"},
             "usual_care": {"en": "Usual care", "zh": "常规照护组"}},
}

LANG = Options("en", "zh")


def _w(key: str, lang: str, **fmt) -> str:
    return TRIAL_PLOT_WORDS[key][lang].format(**fmt)


def _arm_label(arm, lang: str, labels: dict | None) -> str:
    words = (labels or {}).get(arm, TRIAL_PLOT_WORDS["arms"].get(arm))
    if isinstance(words, dict):
        return words.get(lang, str(arm))
    return str(arm) if words is None else str(words)


def _axes(ax, lang: str):
    import matplotlib.pyplot as plt

    if lang == "zh":
        from workbench.plots import use_cjk_font

        use_cjk_font()
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    return ax


def _require(data: pd.DataFrame, columns: list[str], function: str, what: str) -> None:
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise ValueError(f"{function}: {what} lacks the column(s) {absent}; pass the output of "
                         f"{'workbench.trial.trajectory' if function == 'trajectory_plot' else 'cost_effectiveness(..., return_replicates=True)' if function == 'ce_plane' else 'workbench.economics.ceac'}.")


@validate_params({"summary": FRAME, "lang": LANG, "score": Optional(NonEmptyStr())})
def trajectory_plot(summary: pd.DataFrame, *, lang: str = "en", score: str | None = None,
                    labels: dict | None = None, ax=None):
    """Mean score by arm and visit month with 95% intervals, the n written at each point.

    Parameters
    ----------
    summary : DataFrame
        :func:`workbench.trial.trajectory` of the trial (``arm, month, n, mean, ci_low, ci_high``).
    lang : {"en", "zh"}
    score : str, optional
        The score's name on the axis (default the prefix in ``summary.attrs``, upper-cased).
    labels : dict, optional
        Arm -> label (text or ``{"zh": ..., "en": ...}``); intervention and usual care are known.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        Arms are offset a little along the month axis so the intervals do not overlap.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from workbench.trial import trajectory
    >>> d = pd.DataFrame({"arm": ["intervention"] * 3 + ["usual_care"] * 3, "phq9_0": [12, 14, 16, 13, 15, 17],
    ...                   "phq9_12": [4, 6, None, 10, 12, 14]})
    >>> ax = trajectory_plot(trajectory(d, arm="arm"))
    >>> [t.get_text() for t in ax.get_legend().get_texts()], ax.get_xlabel()
    (['Intervention', 'Usual care'], 'Month since randomisation')
    """
    _require(summary, ["arm", "month", "n", "mean", "ci_low", "ci_high"], "trajectory_plot", "summary")
    ax = _axes(ax, lang)
    score = score or str(summary.attrs.get("prefix", "score")).upper().replace("PHQ9", "PHQ-9").replace("GAD7", "GAD-7")
    arms = list(dict.fromkeys(summary["arm"]))
    months = sorted(summary["month"].unique())
    step = (max(months) - min(months)) / 80 if len(months) > 1 else 0.1
    for k, a in enumerate(arms):
        s = summary[summary["arm"] == a].sort_values("month")
        x = s["month"].to_numpy(float) + (k - (len(arms) - 1) / 2) * step
        y = s["mean"].to_numpy(float)
        err = np.vstack([y - s["ci_low"].to_numpy(float), s["ci_high"].to_numpy(float) - y])
        line = ax.errorbar(x, y, yerr=err, marker="o", capsize=4, label=_arm_label(a, lang, labels))
        for xi, yi, n in zip(x, y, s["n"]):
            ax.annotate(f"{_w('n', lang)}={int(n)}", (xi, yi), textcoords="offset points", xytext=(6, 6 - 14 * k),
                        fontsize=8, color=line[0].get_color())
    ax.set_xticks(months)
    ax.set_xlabel(_w("month", lang))
    ax.set_ylabel(_w("mean_score", lang, score=score))
    ax.set_title(_w("trajectory", lang, score=score))
    ax.legend()
    return ax


@validate_params({"replicates": FRAME, "lang": LANG, "effect": Optional(NonEmptyStr()),
                  "currency": Optional(NonEmptyStr())})
def ce_plane(replicates: pd.DataFrame, *, wtp: float | None = None, lang: str = "en", effect: str | None = None,
             currency: str | None = None, labels: dict | None = None, ax=None):
    """Cost-effectiveness plane: the bootstrap (incremental effect, incremental cost) replicates.

    Parameters
    ----------
    replicates : DataFrame
        From :func:`workbench.economics.cost_effectiveness` with ``return_replicates=True``
        (``arm, delta_cost, delta_effect``).
    wtp : float, optional
        Draw the willingness-to-pay line ``delta_cost = wtp * delta_effect`` (points below it are
        cost-effective at that price).
    lang : {"en", "zh"}
    effect, currency : str, optional
        Words for the effect's unit and the currency (default remission and yuan).
    labels : dict, optional
        Arm -> label.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
        The means of the replicates are marked with a cross; axes through 0 divide the four
        quadrants (south-east: more effective and cheaper).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> reps = pd.DataFrame({"arm": "intervention", "replicate": range(3), "delta_cost": [100.0, 300.0, -50.0],
    ...                      "delta_effect": [0.1, 0.2, -0.05]})
    >>> ce_plane(reps, wtp=2000, lang="zh").get_xlabel()
    '增量效果（缓解）'
    """
    _require(replicates, ["arm", "delta_cost", "delta_effect"], "ce_plane", "replicates")
    ax = _axes(ax, lang)
    effect = effect or _w("effect", lang)
    currency = currency or _w("currency", lang)
    for a in dict.fromkeys(replicates["arm"]):
        r = replicates[replicates["arm"] == a]
        pts = ax.scatter(r["delta_effect"], r["delta_cost"], s=6, alpha=0.35, label=_arm_label(a, lang, labels))
        ax.plot(r["delta_effect"].mean(), r["delta_cost"].mean(), marker="X", markersize=10, color="black",
                markeredgecolor=pts.get_facecolor()[0])
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.axvline(0, color="grey", linewidth=0.8)
    if wtp is not None:
        lo, hi = ax.get_xlim()
        xs = np.array([lo, hi])
        ax.plot(xs, wtp * xs, linestyle="--", color="darkred", label=_w("wtp_line", lang, wtp=wtp, currency=currency))
        ax.set_xlim(lo, hi)
    ax.set_xlabel(_w("delta_effect", lang, effect=effect))
    ax.set_ylabel(_w("delta_cost", lang, currency=currency))
    ax.set_title(_w("plane", lang, n=int(replicates.groupby("arm").size().max())))
    ax.legend()
    return ax


@validate_params({"curve": FRAME, "lang": LANG, "currency": Optional(NonEmptyStr())})
def ceac_plot(curve: pd.DataFrame, *, lang: str = "en", currency: str | None = None, labels: dict | None = None,
              ax=None):
    """Cost-effectiveness acceptability curve: probability cost-effective against willingness to pay.

    Parameters
    ----------
    curve : DataFrame
        :func:`workbench.economics.ceac` (``arm, wtp, probability``).
    lang : {"en", "zh"}
    currency : str, optional
        The currency's word (default yuan).
    labels : dict, optional
        Arm -> label.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> curve = pd.DataFrame({"arm": "intervention", "wtp": [0, 5000, 10000], "probability": [0.1, 0.6, 0.9]})
    >>> ax = ceac_plot(curve)
    >>> [float(v) for v in ax.get_ylim()], ax.get_ylabel()
    ([0.0, 1.0], 'Probability cost-effective')
    """
    _require(curve, ["arm", "wtp", "probability"], "ceac_plot", "curve")
    ax = _axes(ax, lang)
    currency = currency or _w("currency", lang)
    for a in dict.fromkeys(curve["arm"]):
        c = curve[curve["arm"] == a].sort_values("wtp")
        ax.plot(c["wtp"], c["probability"], label=_arm_label(a, lang, labels))
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(_w("wtp", lang, currency=currency))
    ax.set_ylabel(_w("probability", lang))
    ax.set_title(_w("ceac", lang))
    ax.legend()
    return ax

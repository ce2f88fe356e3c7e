"""The Cox forest plot (:func:`forest_plot`): hazard ratios per chosen unit with readable zh/en
names and plain ticks on a log axis. Drawn from a model's summary table alone, so the models
(``CoxModel.plot_forest``) and :mod:`workbench.survival_plots` both use it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench._fonts import _font_for
from workbench.i18n import t
from workbench.params import Optional, Options, Predicate, check

__all__ = ["COVARIATE_NAMES", "forest_plot"]

_LANGS = Options("en", "zh")


def _say(words: dict | str, lang: str) -> str:
    return words if isinstance(words, str) else words[lang]

#: Default names of common covariates: ``(en, zh, unit en, unit zh)``; the unit names the step of
#: ``per=`` ("Age (per 10 years)").
COVARIATE_NAMES = {"age": ("Age", "年龄", "years", "岁"), "age10": (t("cov_age10", "en"), t("cov_age10", "zh"), None, None),
                   "female": (t("cov_female", "en"), t("cov_female", "zh"), None, None),
                   "lives_alone": (t("lives_alone", "en"), t("lives_alone", "zh"), None, None),
                   "hypertension": (t("hypertension", "en"), t("hypertension", "zh"), None, None),
                   "diabetes": (t("diabetes", "en"), t("diabetes", "zh"), None, None),
                   "depressed": ("Depressed (tier 2 or 3)", "抑郁（二级或三级）", None, None),
                   "screen_positive": (t("cov_screen_positive", "en"), t("cov_screen_positive", "zh"), None, None)}
_FOREST_WORDS = {"hr": {"en": "Hazard ratio (log scale)", "zh": "风险比（对数刻度）"},
                 "column": {"en": "HR (95% CI)", "zh": "风险比（95%置信区间）"}}


def _covariate_name(covariate: str, lang: str, names: dict | None, per: float) -> str:
    if names and covariate in names:
        return _say(names[covariate], lang)
    en, zh, unit_en, unit_zh = COVARIATE_NAMES.get(covariate, (covariate, covariate, None, None))
    if per == 1:
        return en if lang == "en" else zh
    if lang == "en":
        return f"{en} (per {per:g} {unit_en or 'units'})"
    return f"{zh}（每增加{per:g}{unit_zh or '个单位'}）"


def forest_plot(summary: pd.DataFrame, *, names: dict | None = None, per: dict | None = None, lang: str = "en",
                title: str = "", ax=None):
    """Forest plot of hazard ratios: plain ticks on a log axis, a line at 1, "HR (95% CI)" per row.

    Parameters
    ----------
    summary : DataFrame
        A Cox model's ``summary`` (:class:`workbench.survival.CoxModel`), indexed by covariate,
        with ``coef``, ``hr``, ``hr_ci_low``, ``hr_ci_high``.
    names : dict, optional
        Covariate -> its row label (text or ``{"zh": ..., "en": ...}``), used as given. Others get
        the workbench's words (``COVARIATE_NAMES``, with the ``per`` step added) or their own name.
    per : dict, optional
        Covariate -> the step the ratio is for: ``{"age": 10}`` draws ``exp(10 coef)`` and its
        interval ``hr_ci_low ** 10``, ``hr_ci_high ** 10`` (= ``exp(10 (coef -/+ z se))``).
    lang : {"en", "zh"}
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        The points (line gid ``forest:hr``, x = ratios, top row first in ``summary`` order) with
        their intervals; texts ``"1.23 (0.98–1.55)"`` beside each row (``"—"`` for an infinite
        interval).

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.DataFrame({"coef": [0.01, 0.4], "hr": [1.01, 1.49], "hr_ci_low": [0.99, 1.1],
    ...                   "hr_ci_high": [1.03, 2.02]}, index=pd.Index(["age", "female"], name="covariate"))
    >>> ax = forest_plot(s, per={"age": 10})
    >>> [label.get_text() for label in ax.get_yticklabels()]  # top row first
    ['Age (per 10 years)', 'Female (vs male)']
    >>> [label.get_text() for label in ax.get_xticklabels()]
    ['0.5', '1', '2', '4']
    """
    check("forest_plot", "lang", lang, _LANGS)
    check("forest_plot", "per", per, Optional(Predicate(
        lambda p: isinstance(p, dict) and all(isinstance(v, (int, float)) and v > 0 for v in p.values()),
        "a dict of covariate -> a step > 0")))
    _font_for(lang)
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    steps = np.array([(per or {}).get(c, 1) for c in summary.index], dtype=float)
    with np.errstate(over="ignore"):
        hr = summary["hr"].to_numpy(float) ** steps
        low = summary["hr_ci_low"].to_numpy(float) ** steps
        high = summary["hr_ci_high"].to_numpy(float) ** steps
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.45 * len(summary) + 1.3))
    y = np.arange(len(summary))[::-1]
    finite = np.isfinite(low) & np.isfinite(high) & (low > 0)
    bars = ax.errorbar(hr, y, xerr=[np.where(finite, hr - low, 0), np.where(finite, high - hr, 0)], fmt="s",
                       color="#1f4e9c", capsize=3)
    bars.lines[0].set_gid("forest:hr")
    ax.axvline(1, color="grey", lw=0.8, ls="--", gid="forest:null")
    ax.set_xscale("log")
    ax.set_yticks(y, [_covariate_name(c, lang, names, s) for c, s in zip(summary.index, steps)])
    ax.set_ylim(-0.7, len(summary) - 0.3)
    bounds = np.concatenate([[1], hr[np.isfinite(hr)], low[finite], high[finite]])
    lo, hi = bounds.min(), bounds.max()
    doubling = [2.0 ** k for k in range(-10, 11)]
    decades = [10.0 ** k for k in range(-4, 5)]
    choices = doubling if hi / lo <= 64 else decades
    ticks = [v for v in choices if lo / 1.5 <= v <= hi * 1.5] or [1]
    below, above = [v for v in choices if v < min(ticks)], [v for v in choices if v > max(ticks)]
    ticks = ([below[-1]] if below and len(ticks) < 3 else []) + ticks + ([above[0]] if above and len(ticks) < 3 else [])
    ax.set_xlim(min(ticks) / 1.15, max(ticks) * 1.15)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(_FOREST_WORDS["hr"][lang])
    side = ax.get_yaxis_transform()
    for yy, h, a, b, ok in zip(y, hr, low, high, finite):
        text = f"{h:.2f} ({a:.2f}–{b:.2f})" if ok and np.isfinite(h) else "—"
        ax.text(1.02, yy, text, transform=side, va="center", ha="left", fontsize=9, gid="forest:text")
    ax.text(1.02, len(summary) - 0.4, _FOREST_WORDS["column"][lang], transform=side, va="bottom", ha="left",
            fontsize=9, fontweight="bold")
    ax.set_title(title)
    ax.figure.tight_layout()
    return ax

"""Plots that label in Chinese or English, derived from the questionnaire declarations."""

from __future__ import annotations

import warnings

import matplotlib
import numpy as np
import pandas as pd
from matplotlib import font_manager

from workbench.i18n import t
from workbench.instruments import get_instrument
from workbench.policy import PSYCH_STATUSES, load_policy

__all__ = ["band_chart", "km_plot", "proportion_chart", "service_matrix_chart", "use_cjk_font"]

#: CJK fonts tried in order (Debian's fonts-noto-cjk first; scripts/debian-packages.txt).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Source Han Sans SC", "WenQuanYi Micro Hei",
             "WenQuanYi Zen Hei", "SimHei", "Microsoft YaHei", "PingFang SC")


def use_cjk_font() -> str | None:
    """Make matplotlib draw Chinese text; return the font used, or None (with a warning)."""
    available = {f.name for f in font_manager.fontManager.ttflist}
    if not available & set(CJK_FONTS):
        # matplotlib's font cache predates the font's installation: add the system CJK fonts
        for path in font_manager.findSystemFonts():
            if any(tag in path.lower() for tag in ("cjk", "wqy", "wenquanyi")):
                font_manager.fontManager.addfont(path)
        available = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in available:
            sans = [n for n in matplotlib.rcParams["font.sans-serif"] if n != name]
            matplotlib.rcParams["font.sans-serif"] = [name, *sans]
            matplotlib.rcParams["font.family"] = "sans-serif"
            matplotlib.rcParams["axes.unicode_minus"] = False
            return name
    warnings.warn("No CJK font found: Chinese labels will show as boxes. Install fonts-noto-cjk "
                  "(make run does this on Debian).", stacklevel=2)
    return None


def _font_for(lang: str) -> None:
    """Chinese labels need a CJK font: switch to one (once) before drawing in Chinese."""
    if lang == "zh" and not _CJK_READY:
        _ready_cjk()


_CJK_READY = False


def _ready_cjk() -> None:
    global _CJK_READY
    _CJK_READY = use_cjk_font() is not None


def band_chart(scores: pd.DataFrame, instrument: str, *, lang: str = "en", ax=None):
    """Bar chart of residents per band (and not scorable), bands labelled from the declaration.

    ``scores`` is the output of :func:`workbench.score` (or one questionnaire's columns of
    :func:`workbench.score_all`, prefix removed).
    """
    _font_for(lang)
    import matplotlib.pyplot as plt

    inst = get_instrument(instrument)
    counts = scores["band"].value_counts().reindex(inst.band_ids, fill_value=0)
    labels = [inst.band_label(b, lang) for b in inst.band_ids]
    values = list(counts.to_numpy())
    n_missing = int(scores["band"].isna().sum())
    if n_missing:
        labels.append(t("not_scorable", lang))
        values.append(n_missing)
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.2))
    bars = ax.bar(range(len(values)), values, color=["#4c78a8"] * len(inst.band_ids) + ["#bbbbbb"] * bool(n_missing))
    ax.bar_label(bars, labels=[f"{v:,}" for v in values], fontsize=8)
    ax.set_xticks(range(len(values)), labels, rotation=20, ha="right")
    ax.set_ylabel(t("count", lang))
    ax.set_title(inst.name[lang])
    return ax


def proportion_chart(table: pd.DataFrame, *, by: str, lang: str = "en", title: str = "", ax=None):
    """Horizontal bars of ``table['proportion']`` per level of ``by`` with n in the label."""
    _font_for(lang)
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.45 * len(table) + 1))
    labels = [f"{level} (n={n:,})" for level, n in zip(table[by], table["n"])]
    bars = ax.barh(labels, table["proportion"] * 100, color="#e45756")
    ax.bar_label(bars, labels=[f"{p:.1%}" for p in table["proportion"]], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(t("share", lang) + " (%)")
    ax.set_title(title)
    return ax


def service_matrix_chart(screened: pd.DataFrame, *, policy="default", lang: str = "en", ax=None):
    """Heat map of residents per service-matrix cell (disease category x psychological status).

    ``screened`` is the output of :func:`workbench.screen`; rows with an unknown status are
    counted in the title, never dropped silently.
    """
    _font_for(lang)
    import matplotlib.pyplot as plt

    policy = load_policy(policy)
    categories = [c[0] for c in policy.disease_categories]
    table = pd.crosstab(screened["disease_category"], screened["psych_status"]).reindex(
        index=categories, columns=list(PSYCH_STATUSES), fill_value=0)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    image = ax.imshow(table.to_numpy(), cmap="Oranges")
    for (i, j), value in np.ndenumerate(table.to_numpy()):
        ax.text(j, i, f"{value:,}", ha="center", va="center", fontsize=10)
    ax.set_xticks(range(len(PSYCH_STATUSES)), [t(s, lang) for s in PSYCH_STATUSES])
    ax.set_yticks(range(len(categories)), [c[2][lang] if c[0] == "none" else f"{c[0]} {c[2][lang]}"
                                           for c in policy.disease_categories])
    unknown = int(screened["psych_status"].isna().sum())
    ax.set_title(t("service_matrix", lang) + (f" ({t('unknown', lang)}: {unknown})" if unknown else ""))
    ax.figure.colorbar(image, ax=ax, shrink=0.8)
    return ax


DAYS_PER_MONTH = 365.25 / 12


def km_plot(data: pd.DataFrame, *, duration: str, event: str, group: str | None = None, lang: str = "en",
            title: str = "", ci: str = "log-log", labels: dict | None = None, ticks: int = 6):
    """Kaplan-Meier curves as survminer users expect them.

    Confidence bands, censor ticks, median lines, the log-rank p on the plot and the
    number-at-risk table under the curves; time in months (``duration`` is in days); labels in
    ``lang``. Returns the figure.
    """
    _font_for(lang)
    import matplotlib.pyplot as plt

    from workbench.survival import km, km_summary, logrank

    fig, (ax, table) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, gridspec_kw={"height_ratios": [4, 1.1]})
    curves = km(data, duration=duration, event=event, group=group, ci=ci)
    medians = km_summary(data, duration=duration, event=event, group=group, ci=ci)
    groups = [None] if group is None else list(curves["group"].unique())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    horizon = data[duration].max() / DAYS_PER_MONTH
    grid = np.linspace(0, horizon, ticks)
    for k, label in enumerate(groups):
        part = curves if label is None else curves[curves["group"] == label]
        name = t("all", lang) if label is None else (labels or {}).get(label, str(label))
        colour = colours[k % len(colours)]
        x = np.concatenate([[0], part["time"].to_numpy(float) / DAYS_PER_MONTH])
        ax.step(x, np.concatenate([[1], part["survival"]]), where="post", color=colour, label=name)
        ax.fill_between(x, np.concatenate([[1], part["ci_low"].fillna(part["survival"])]),
                        np.concatenate([[1], part["ci_high"].fillna(part["survival"])]), step="post",
                        color=colour, alpha=0.15, linewidth=0)
        censored = part[part["censored"] > 0]
        ax.plot(censored["time"] / DAYS_PER_MONTH, censored["survival"], "|", color=colour, markersize=8)
        median = medians["median"].iloc[k]
        if np.isfinite(median):
            ax.plot([0, median / DAYS_PER_MONTH, median / DAYS_PER_MONTH], [0.5, 0.5, 0], ls=":", color=colour, lw=1)
        subset = data if label is None else data[data[group] == label]
        at_risk = [(subset[duration] >= g * DAYS_PER_MONTH).sum() for g in grid]
        for g, n in zip(grid, at_risk):
            table.text(g, len(groups) - 1 - k, f"{n:,}", ha="center", va="center", color=colour, fontsize=8)
    if group is not None and len(groups) > 1:
        p = logrank(data, duration=duration, event=event, group=group)["p_value"].iloc[0]
        ax.text(0.02, 0.05, f"{t('logrank_p', lang)} = {p:.3g}" if p >= 1e-4 else f"{t('logrank_p', lang)} < 0.0001",
                transform=ax.transAxes)
        ax.legend(frameon=False)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(t("survival_probability", lang))
    ax.set_title(title)
    table.set_ylim(-0.5, len(groups) - 0.5)
    table.set_yticks(range(len(groups)), [t("all", lang) if g is None else (labels or {}).get(g, str(g))
                                          for g in reversed(groups)])
    table.set_xticks(grid, [f"{g:.0f}" for g in grid])
    table.set_xlabel(t("months", lang))
    table.set_title(t("number_at_risk", lang), fontsize=9, loc="left")
    for side in ("top", "right", "left"):
        table.spines[side].set_visible(False)
    table.tick_params(left=False)
    fig.tight_layout()
    return fig

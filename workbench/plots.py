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

__all__ = ["band_chart", "proportion_chart", "service_matrix_chart", "use_cjk_font"]

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


def band_chart(scores: pd.DataFrame, instrument: str, *, lang: str = "en", ax=None):
    """Bar chart of residents per band (and not scorable), bands labelled from the declaration.

    ``scores`` is the output of :func:`workbench.score` (or one questionnaire's columns of
    :func:`workbench.score_all`, prefix removed).
    """
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

"""Number needed to treat with its interval (Altman 1998), and its plain zh/en sentence.

Used by :func:`workbench.trial.risk_compare` (which re-exports :func:`nnt_text`); kept apart to
keep ``trial.py`` small. NNT = 1/|RD| rounded up to a whole person (Cook RJ, Sackett DL. BMJ
1995;310:452); its interval is the reciprocal of the risk difference's limits, and when that
interval includes 0 it reads "NNTB x to infinity to NNTH y" (Altman DG. BMJ 1998;317:1309).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from workbench.params import FRAME, Predicate, validate_params

__all__ = ["NNT_WORDS", "nnt_text"]


def _nnt(rd: float, low: float, high: float, *, desirable: bool) -> dict[str, Any]:
    """Number needed to treat and its interval from a risk difference and its interval (Altman 1998)."""
    sign = 1.0 if desirable else -1.0           # benefit = a change in the desirable direction
    b, bl, bh = sign * rd, *sorted((sign * low, sign * high))   # on the benefit scale, bl <= bh

    def kind(v: float) -> str:
        return "NNTB" if v > 0 else "NNTH"

    def inv(v: float) -> float:
        return np.inf if v == 0 else 1 / abs(v)

    through = bl < 0 < bh
    if through:           # NNTB 1/bh to infinity to NNTH 1/|bl|
        lo, lo_kind, hi, hi_kind = inv(bh), "NNTB", inv(bl), "NNTH"
    elif bl >= 0:         # benefit throughout (a limit at 0 gives infinity)
        lo, lo_kind, hi, hi_kind = inv(bh), "NNTB", inv(bl), "NNTB"
    else:                 # harm throughout
        lo, lo_kind, hi, hi_kind = inv(bl), "NNTH", inv(bh), "NNTH"
    return {"nnt": np.nan if b == 0 else float(np.ceil(1 / abs(b) - 1e-9)),
            "nnt_kind": None if b == 0 else kind(b), "nnt_unrounded": inv(b),
            "nnt_ci_low": lo, "nnt_ci_low_kind": lo_kind, "nnt_ci_high": hi, "nnt_ci_high_kind": hi_kind,
            "nnt_ci_through_infinity": bool(through)}


#: zh and en words of :func:`nnt_text`.
NNT_WORDS = {"en": {"NNTB": "NNTB", "NNTH": "NNTH", "inf": "infinity", "to": "to", "ci": "{level}% CI",
                    "none": "no difference: NNT infinite"},
             "zh": {"NNTB": "NNTB", "NNTH": "NNTH", "inf": "∞", "to": "至",
                    "ci": "{level}% 置信区间", "none": "两组无差别，需治疗人数为无穷大"}}
#: What NNTB and NNTH mean, for a line under a table (the zh text keeps Altman's short names).
NNT_GLOSSARY = {"en": "NNTB: number needed to treat for one more person to benefit; NNTH: to harm one more person.",
                "zh": "NNTB：多 1 人获益需治疗的人数；NNTH：多 1 人受害需治疗的人数。"}


def _up(v: float) -> str:
    return "inf" if not np.isfinite(v) else str(int(np.ceil(v - 1e-9)))


@validate_params({"result": FRAME, "lang": Predicate(lambda v: v in NNT_WORDS, f"one of {sorted(NNT_WORDS)}")})
def nnt_text(result: pd.DataFrame, *, lang: str = "en") -> pd.Series:
    """The NNT and its interval of :func:`workbench.trial.risk_compare` as one plain sentence per row.

    Altman's wording (BMJ 1998;317:1309): "NNTB 9 (95% CI NNTB 5 to NNTB 46)", and when the risk
    difference's interval includes 0, "NNTB 8 (95% CI NNTB 5 to infinity to NNTH 30)". Interval
    limits are rounded up to whole persons, as the NNT is.

    Examples
    --------
    >>> import pandas as pd
    >>> from workbench.trial import risk_compare
    >>> d = pd.DataFrame({"arm": ["ic"] * 50 + ["uc"] * 50, "y": [1] * 20 + [0] * 30 + [1] * 15 + [0] * 35})
    >>> r = risk_compare(d, outcome="y", arm="arm", reference="uc")
    >>> nnt_text(r).item()
    'NNTB 10 (95% CI NNTB 4 to infinity to NNTH 12)'
    >>> nnt_text(r, lang="zh").item()
    'NNTB 10（95% 置信区间 NNTB 4 至 ∞ 至 NNTH 12）'
    """
    w = NNT_WORDS[lang]
    level = round(100 * (1 - result.attrs.get("alpha", 0.05)), 1)
    ci = w["ci"].format(level=f"{level:g}")

    def limit(v: float, k: str) -> str:
        return f"{w[k]} {w['inf']}" if not np.isfinite(v) else f"{w[k]} {_up(v)}"

    out = []
    for _, r in result.iterrows():
        if pd.isna(r["nnt"]):
            out.append(w["none"])
            continue
        parts = [limit(r["nnt_ci_low"], r["nnt_ci_low_kind"])]
        if r["nnt_ci_through_infinity"]:
            parts.append(w["inf"])
        parts.append(limit(r["nnt_ci_high"], r["nnt_ci_high_kind"]))
        inner = f" {w['to']} ".join(parts)
        head = f"{w[r['nnt_kind']]} {int(r['nnt'])}"
        out.append(f"{head}（{ci} {inner}）" if lang == "zh" else f"{head} ({ci} {inner})")
    return pd.Series(out, index=result.index, name="nnt_text", dtype=object)

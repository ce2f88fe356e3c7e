"""Plausible screen-positive thresholds: the range a programme may set (policy files,
``policy.derive_policy``, the what-if slider of notebook 02), declared in
``workbench/data/screening_thresholds.yaml`` from the questionnaires' bands, so no clinical number
is typed twice. :mod:`workbench.stepped_care` offers these too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from workbench.instruments import get_instrument

__all__ = ["ThresholdError", "check", "threshold_range"]

_THRESHOLDS = Path(__file__).with_name("data") / "screening_thresholds.yaml"
_THRESHOLD_WORDS = {
    "en": ("{name} screen-positive threshold {value} is refused: a plausible one is {low} to {high} "
           "(from the lowest total of {low_from} to the lowest total of {high_from}; totals run "
           "{min} to {max}; declared in {file}: {source})"),
    "zh": ("{name} 筛查阳性阈值 {value} 不可用：合理范围为 {low} 至 {high}（从{low_from}的最低分到{high_from}的最低分；"
           "总分范围 {min} 至 {max}；见 {file}：{source}）"),
}


def _one_line(text: str) -> str:
    """A folded YAML text on one line: no space left after Chinese punctuation."""
    import re

    return re.sub(r"(?<=[，。；：、（）])\s+", "", " ".join(text.split()))


def _bound_words(inst, value, lang: str) -> str:
    """Where a bound comes from, in ``lang``: a band by its label, or the total itself."""
    if isinstance(value, dict):
        label = inst.band_label(value["band"], lang)
        return f"“{label}”档" if lang == "zh" else f"the '{label}' band"
    return f" {value} 分" if lang == "zh" else str(value)


class ThresholdError(ValueError):
    """A screen-positive threshold outside its declared plausible range; ``messages`` has zh and en."""

    def __init__(self, messages: dict, *, lang: str):
        self.messages = dict(messages)
        super().__init__(self.messages[lang])


def _bound(inst, value) -> tuple[int, str]:
    if isinstance(value, dict):
        band = next(b for b in inst.bands if b.id == value["band"])
        return int(band.lower if band.lower_closed else band.lower + 1), f"band '{band.id}'"
    return int(value), str(value)


def threshold_range(instrument: str) -> dict:
    """The plausible screen-positive thresholds of ``instrument``: ``lowest``, ``highest`` (totals,
    inclusive), what each comes from, ``source``, and the declared totals ``score_min``/``score_max``.
    Read from ``workbench/data/screening_thresholds.yaml`` and the questionnaire's bands; a what-if
    slider takes its bounds from here. None when nothing is declared for the questionnaire.

    Examples
    --------
    >>> r = threshold_range("phq9")
    >>> r["lowest"], r["highest"], r["lowest_from"], r["highest_from"]
    (5, 20, "band 'mild'", "band 'severe'")
    >>> threshold_range("k10") is None
    True
    """
    from workbench._declarations import load_yaml

    entry = load_yaml(_THRESHOLDS.read_text(encoding="utf-8")).get(instrument)
    if entry is None:
        return None
    inst = get_instrument(instrument)
    (low, low_from), (high, high_from) = _bound(inst, entry["lowest"]), _bound(inst, entry["highest"])
    return {"lowest": low, "highest": high, "lowest_from": low_from, "highest_from": high_from,
            "source": " ".join(str(entry["source"]).split()), "score_min": int(inst.score_min),
            "score_max": int(inst.score_max)}


def check(thresholds: Mapping, *, lang: str = "en") -> None:
    """Refuse a policy's ``thresholds`` whose ``screen_positive`` values are outside their plausible range
    (:func:`threshold_range`), naming the questionnaire, the value, the range and its source.
    A questionnaire with no declared range is left to the policy's own check (within its totals).

    Examples
    --------
    >>> check({"screen_positive": {"phq9": 10}}) is None
    True
    """
    for inst_id, value in thresholds.get("screen_positive", {}).items():
        inst = get_instrument(inst_id)
        name = inst.name["en"].rsplit("(", 1)[-1].rstrip(")") if "(" in inst.name["en"] else inst_id.upper()
        r = threshold_range(inst_id)
        if r is None:  # nothing declared: the policy's own check (within the totals) is all there is
            continue
        if not r["lowest"] <= value <= r["highest"]:
            from workbench._declarations import load_yaml

            entry = load_yaml(_THRESHOLDS.read_text(encoding="utf-8"))[inst_id]
            messages = {}
            for k in ("zh", "en"):
                words = dict(name=name, value=value, low=r["lowest"], high=r["highest"],
                             low_from=_bound_words(inst, entry["lowest"], k),
                             high_from=_bound_words(inst, entry["highest"], k), min=r["score_min"],
                             max=r["score_max"], file="workbench/data/screening_thresholds.yaml",
                             source=_one_line(str(entry.get("source_zh" if k == "zh" else "source",
                                                            entry["source"]))))
                messages[k] = _THRESHOLD_WORDS[k].format(**words)
            raise ThresholdError(messages, lang=lang)

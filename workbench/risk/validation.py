"""Validation of the risk model that respects time and place, with the figures side by side by group.

Two schemes give out-of-sample predictions, each row labelled with its ``split``:

- ``temporal`` (:func:`temporal_predictions`): fit on referrals screened before ``cut``, predict
  those screened on or after it. ``cut`` defaults to the screening date at 2/3 of the rows with
  a known outcome (sorted by date). Rows screened shortly before the cut have their week 8-12
  outcome after it: pass ``outcome_known_by_cut=True`` to fit only on outcomes complete by the
  cut (what a team could really have done on that day).
- ``community`` (:func:`community_predictions`): leave one community out: fit on the others,
  predict it; every community once.

:func:`validate` runs both schemes for each model kind and returns a :class:`ValidationReport`
of tidy tables: overall performance (C statistic with DeLong interval, calibration-in-the-large
and slope with intervals, the rms::val.prob statistics), the flexible calibration curve, the
decision curve, and the same figures by sex, age group and community type, each group with a
plain statement in Chinese and English (:data:`SUBGROUP_RULE`): "worse" when its AUC interval
lies entirely below the overall AUC, or its calibration slope is below 0.8, or its
calibration-in-the-large is beyond +-0.2; "too few to judge" under 10 events (or non-events);
"cannot be estimated" (verdict ``cannot_estimate``) when a calibration figure of the group is
blank (the outcome perfectly separated by the risk, or every risk the same: the reason from
:data:`workbench.risk.metrics.NOT_ESTIMABLE` is in the statement and in ``note_en``/``note_zh``);
otherwise "not worse by this rule". Nothing is left silent and no group raises an exception.

Examples
--------
>>> SUBGROUP_RULE["min_events"], SUBGROUP_RULE["slope_below"], SUBGROUP_RULE["citl_beyond"]
(10, 0.8, 0.2)
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from workbench.params import Options, Predicate, validate_params
from workbench.risk.dataset import ModelFrame, model_frame
from workbench.risk.metrics import c_statistic, calibration, calibration_curve, net_benefit, val_prob
from workbench.risk.models import KINDS, fit, predict_risk
from workbench.risk.spec import ModelSpec, _as_spec

__all__ = ["GROUPINGS", "LEFT_OUT_COLUMNS", "SUBGROUP_RULE", "ValidationReport", "community_predictions", "default_cut",
           "performance", "subgroups", "temporal_predictions", "validate"]

#: The declared rule for calling a subgroup worse (or too small to judge).
SUBGROUP_RULE = {"min_events": 10, "slope_below": 0.8, "citl_beyond": 0.2,
                 "auc": "the subgroup's 95% AUC interval lies entirely below the overall AUC point estimate"}
#: The groupings of the subgroup table (columns of ``ModelFrame.info``).
GROUPINGS = ("sex", "age_group", "community_type")
PREDICTION_COLUMNS = ["decision_id", "kind", "scheme", "split", "y", "p", "assessed_on", "community",
                      "community_type", "sex", "age_group", "tier"]
_GROUP_ZH = {"female": "女性", "male": "男性", "urban": "城市社区", "rural": "农村社区", "ageing": "老龄化社区"}
_BY_ZH = {"sex": "性别", "age_group": "年龄组", "community_type": "社区类型"}
_KIND_ZH = {"logistic": "惩罚逻辑回归", "boosting": "梯度提升"}
_SCHEME_ZH = {"temporal": "按时间验证", "community": "留一社区验证"}


def _known(frame: ModelFrame) -> ModelFrame:
    return frame.complete()


def default_cut(frame: ModelFrame) -> pd.Timestamp:
    """The screening date at 2/3 of the rows with a known outcome, in date order.

    >>> days = pd.Series(pd.date_range("2025-01-01", periods=9, freq="MS"))
    >>> f = ModelFrame(None, pd.Series([0, 1] * 4 + [pd.NA], dtype="Int8"), pd.DataFrame({"assessed_on": days}),
    ...                None, None)
    >>> default_cut(f).date()  # 8 known outcomes: the 6th date (position floor(2 * 8 / 3) = 5)
    datetime.date(2025, 6, 1)
    """
    known = frame.y.notna().to_numpy(bool)
    days = np.sort(frame.info["assessed_on"].to_numpy("datetime64[ns]")[known])
    if len(days) == 0:
        raise ValueError("No row has a known outcome: nothing to split.")
    return pd.Timestamp(days[int(np.floor(2 * len(days) / 3))])


def _predictions(frame: ModelFrame, rows: np.ndarray, risk: np.ndarray, *, kind: str, scheme: str,
                 split: str) -> pd.DataFrame:
    info = frame.info.iloc[rows]
    out = pd.DataFrame({"decision_id": info.index.to_numpy(), "kind": kind, "scheme": scheme, "split": split,
                        "y": frame.y.iloc[rows].astype("Int8").to_numpy(), "p": risk})
    for c in PREDICTION_COLUMNS[6:]:
        out[c] = info[c].to_numpy()
    return out


def _fit_predict(frame: ModelFrame, train: np.ndarray, test: np.ndarray, *, kind: str,
                 split: str = "") -> tuple[np.ndarray, pd.DataFrame]:
    """Fit on the training rows (the spec's ``min_observed`` rule decided on them alone) and
    predict the test rows; also the predictors that fit left out (``split`` column added)."""
    sub = ModelFrame(frame.X.iloc[train], frame.y.iloc[train], frame.info.iloc[train], frame.exclusions, frame.spec)
    y = sub.y.astype(int).to_numpy()
    if y.min() == y.max():
        raise ValueError(f"The training rows hold only one outcome ({y[0]}): the {kind} model cannot be fitted.")
    model = fit(sub, kind=kind)
    left = model.left_out_.assign(kind=kind, split=split)
    return predict_risk(model, frame.X.iloc[test]), left


@validate_params({"kind": Options(*KINDS)})
def temporal_predictions(frame: ModelFrame, *, kind: str, cut: Any = None,
                         outcome_known_by_cut: bool = False) -> pd.DataFrame:
    """Out-of-sample predictions of a model fitted on earlier screenings.

    Parameters
    ----------
    frame : ModelFrame
    kind : {"logistic", "boosting"}
    cut : date-like, optional
        Fit on screenings before it, predict those on or after it (default :func:`default_cut`).
    outcome_known_by_cut : bool
        Fit only on referrals whose review window (``to_week``) ended before the cut.

    Returns
    -------
    DataFrame
        ``PREDICTION_COLUMNS``: ``decision_id, kind, scheme ("temporal"), split`` (e.g.
        ``"test from 2025-09-02"``), ``y, p`` and the context columns; ``attrs["cut"]``,
        ``attrs["n_train"]``, ``attrs["left_out"]`` (the predictors the fit on the earlier rows
        left out by the spec's ``min_observed`` rule: records with the keys :data:`LEFT_OUT_COLUMNS`).
    """
    f = _known(frame)
    cut = default_cut(frame) if cut is None else pd.Timestamp(cut)
    day = f.info["assessed_on"]
    train = day < cut
    if outcome_known_by_cut:
        train &= day + pd.Timedelta(days=7 * (f.spec.outcome.to_week + 1)) <= cut
    test = (day >= cut).to_numpy(bool)
    split = f"test from {cut.date().isoformat()}"
    risk, left = _fit_predict(f, np.flatnonzero(train.to_numpy(bool)), np.flatnonzero(test), kind=kind, split=split)
    out = _predictions(f, np.flatnonzero(test), risk, kind=kind, scheme="temporal", split=split)
    out.attrs.update(cut=cut, n_train=int(train.sum()), outcome_known_by_cut=outcome_known_by_cut,
                     left_out=_left_records(left.assign(scheme="temporal")))
    return out


@validate_params({"kind": Options(*KINDS)})
def community_predictions(frame: ModelFrame, *, kind: str) -> pd.DataFrame:
    """Leave-one-community-out predictions: each community predicted by a model fitted on the others.

    Returns
    -------
    DataFrame
        ``PREDICTION_COLUMNS`` with ``scheme`` "community" and ``split`` the community left out;
        ``attrs["left_out"]``: the predictors each fit left out (decided on its own training
        rows, the other communities), records with the keys :data:`LEFT_OUT_COLUMNS`.
    """
    f = _known(frame)
    parts, left = [], []
    community = f.info["community"].astype(object).to_numpy()
    for c in sorted(pd.unique(community[pd.notna(community)])):
        test = community == c
        risk, lo = _fit_predict(f, np.flatnonzero(~test), np.flatnonzero(test), kind=kind, split=str(c))
        parts.append(_predictions(f, np.flatnonzero(test), risk, kind=kind, scheme="community", split=str(c)))
        left.append(lo.assign(scheme="community"))
    out = pd.concat(parts, ignore_index=True)
    out.attrs.update(left_out=_left_records(pd.concat(left, ignore_index=True)))
    return out


#: Columns of the left-out table of a validation (``ValidationReport.left_out``).
LEFT_OUT_COLUMNS = ["kind", "scheme", "split", "name", "source", "rows", "events", "non_events", "min_rows",
                    "min_events", "reason"]


def _left_table(left: pd.DataFrame | list) -> pd.DataFrame:
    left = pd.DataFrame(left) if isinstance(left, list) else left
    return left.reindex(columns=LEFT_OUT_COLUMNS).reset_index(drop=True)


def _left_records(left: pd.DataFrame) -> list[dict]:
    """The left-out table as plain records (kept in ``DataFrame.attrs``, which pandas compares
    and copies: no DataFrame there)."""
    return [{c: (v.item() if hasattr(v, "item") else (None if v is pd.NA else v)) for c, v in row.items()}
            for row in _left_table(left).astype(object).to_dict("records")]


def _figures(y: pd.Series, p: pd.Series) -> dict[str, Any]:
    c = c_statistic(y, p).iloc[0]
    k = calibration(y, p).iloc[0]
    return {"n": int(c["n"]), "events": int(c["events"]), "auc": c["auc"], "auc_lower": c["lower"],
            "auc_upper": c["upper"], "citl": k["citl"], "citl_lower": k["citl_lower"], "citl_upper": k["citl_upper"],
            "slope": k["slope"], "slope_lower": k["slope_lower"], "slope_upper": k["slope_upper"],
            "observed": k["observed"], "mean_predicted": k["mean_predicted"], "note_en": k["note_en"],
            "note_zh": k["note_zh"]}


def performance(predictions: pd.DataFrame, *, by: Sequence[str] = ("kind", "scheme")) -> pd.DataFrame:
    """Discrimination and calibration of out-of-sample predictions, per group of ``by``.

    Returns
    -------
    DataFrame
        ``by`` columns, then ``n, events, auc, auc_lower, auc_upper, citl, citl_lower, citl_upper,
        slope, slope_lower, slope_upper, observed, mean_predicted, note_en, note_zh`` (why a
        calibration figure is blank; blank otherwise), then the rms::val.prob statistics ``brier,
        r2, emax, e90, eavg, intercept_rms, slope_rms``.

    Examples
    --------
    >>> pr = pd.DataFrame({"kind": "x", "scheme": "y", "y": [0, 1, 0, 1, 1, 0], "p": [.2, .7, .4, .6, .3, .1]})
    >>> performance(pr)[["n", "events", "auc"]].round(3).values.tolist()
    [[6.0, 3.0, 0.889]]
    """
    rows = []
    for key, g in predictions.groupby(list(by), sort=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key), **_figures(g["y"], g["p"]))
        known = g["y"].notna() & g["p"].notna()
        if 0 < g.loc[known, "y"].sum() < known.sum():
            v = val_prob(g["p"], g["y"])
            row.update(brier=v["brier"], r2=v["r2"], emax=v["emax"], e90=v["e90"], eavg=v["eavg"],
                       intercept_rms=v["intercept"], slope_rms=v["slope"])
        rows.append(row)
    return pd.DataFrame(rows)


def _label(by: str, group: Any, lang: str) -> str:
    g = str(group)
    if lang == "zh":
        return f"{g}岁" if by == "age_group" else _GROUP_ZH.get(g, g)
    if by == "community_type":
        return f"{g} communities"
    return f"aged {g}" if by == "age_group" else {"female": "women", "male": "men"}.get(g, g)


def _decimals(value: float, bound: float, holds, *, digits: int = 2, both: bool = False) -> int:
    """How many decimals (``digits`` or more, at most 10) to show ``value`` with (and ``bound``,
    when ``both``) so that ``holds`` reads on the shown numbers as it holds on the numbers: a slope
    of 0.797 is shown as 0.797 < 0.8, not as 0.80 < 0.8.

    >>> _decimals(0.797, 0.8, operator.lt), _decimals(0.7996, 0.8, operator.lt), _decimals(0.62, 0.8, operator.lt)
    (3, 4, 2)
    >>> _decimals(0.2004, 0.2, operator.gt), _decimals(0.7051, 0.7054, operator.lt, both=True)
    (4, 4)
    """
    truth = bool(holds(value, bound))
    for d in range(digits, 11):
        shown = float(f"{value:.{d}f}")
        if bool(holds(shown, float(f"{bound:.{d}f}") if both else bound)) == truth:
            return d
    return 10


def _statement(row: dict, overall_auc: float) -> tuple[str, str, str]:
    """(verdict, en, zh) for one subgroup row by :data:`SUBGROUP_RULE`."""
    who_en, who_zh = _label(row["by"], row["group"], "en"), _label(row["by"], row["group"], "zh")
    where_en = f"{row['kind']} model, {row['scheme']} validation"
    where_zh = f"{_KIND_ZH.get(row['kind'], row['kind'])}，{_SCHEME_ZH.get(row['scheme'], row['scheme'])}"
    rule = SUBGROUP_RULE
    few = min(row["events"], row["n"] - row["events"]) < rule["min_events"]
    note_en, note_zh = row.get("note_en"), row.get("note_zh")
    if few:
        return ("too_few", f"{who_en.capitalize()} ({where_en}): too few to judge ({row['events']} events among "
                f"{row['n']}; at least {rule['min_events']} events and non-events are needed)."
                + (f" Calibration {note_en}." if note_en else ""),
                f"{who_zh}（{where_zh}）：人数太少，无法判断（{row['n']}人中{row['events']}例事件；"
                f"事件和非事件各需至少{rule['min_events']}例）。" + (f"校准{note_zh}。" if note_zh else ""))
    reasons_en, reasons_zh = [], []
    if row["auc_upper"] < overall_auc:
        d = _decimals(row["auc_upper"], overall_auc, operator.lt, both=True)
        auc = f"{row['auc']:.{d}f}（{row['auc_lower']:.{d}f}-{row['auc_upper']:.{d}f}）"
        reasons_en.append(f"C statistic {auc.replace('（', ' (').replace('）', ')')} entirely below the overall "
                          f"{overall_auc:.{d}f}")
        reasons_zh.append(f"C统计量{auc}整体低于总体的{overall_auc:.{d}f}，区分高低风险的能力较差")
    if row["slope"] < rule["slope_below"]:
        slope = f"{row['slope']:.{_decimals(row['slope'], rule['slope_below'], operator.lt)}f}"
        reasons_en.append(f"calibration slope {slope} < {rule['slope_below']} (risks too extreme)")
        reasons_zh.append(f"校准斜率{slope}＜{rule['slope_below']}（风险估计过于极端）")
    if abs(row["citl"]) > rule["citl_beyond"]:
        side_en = "too low" if row["citl"] > 0 else "too high"
        side_zh = "偏低" if row["citl"] > 0 else "偏高"
        citl = f"{row['citl']:+.{_decimals(abs(row['citl']), rule['citl_beyond'], operator.gt)}f}"
        reasons_en.append(f"calibration-in-the-large {citl} beyond +-{rule['citl_beyond']} (risks {side_en}: "
                          f"observed {row['observed']:.0%}, predicted {row['mean_predicted']:.0%} on average)")
        reasons_zh.append(f"整体校准截距{citl}超出±{rule['citl_beyond']}（风险估计{side_zh}："
                          f"实际{row['observed']:.0%}，平均预测{row['mean_predicted']:.0%}）")
    if reasons_en:
        return ("worse", f"{who_en.capitalize()} ({where_en}): the model is WORSE for this group: "
                + "; ".join(reasons_en) + "." + (f" Calibration {note_en}." if note_en else ""),
                f"{who_zh}（{where_zh}）：模型对这一人群表现较差：" + "；".join(reasons_zh) + "。"
                + (f"校准{note_zh}。" if note_zh else ""))
    if note_en or not all(np.isfinite(row[k]) for k in ("auc", "slope", "citl")):
        note_en = note_en or "cannot be estimated"
        note_zh = note_zh or "无法估计"
        return ("cannot_estimate", f"{who_en.capitalize()} ({where_en}): calibration {note_en}; whether the model "
                f"is worse for this group cannot be judged (C statistic {row['auc']:.2f}).",
                f"{who_zh}（{where_zh}）：校准{note_zh}；无法判断模型对这一人群是否较差（C统计量{row['auc']:.2f}）。")
    return ("not_worse", f"{who_en.capitalize()} ({where_en}): not worse than overall by the declared rule "
            f"(C statistic {row['auc']:.2f}, slope {row['slope']:.2f}, calibration-in-the-large {row['citl']:+.2f}).",
            f"{who_zh}（{where_zh}）：按预先规定的标准，不比总体差（C统计量{row['auc']:.2f}，校准斜率"
            f"{row['slope']:.2f}，整体校准截距{row['citl']:+.2f}）。")


def subgroups(predictions: pd.DataFrame, *, groupings: Sequence[str] = GROUPINGS) -> pd.DataFrame:
    """The same figures by sex, age group and community type, with a plain statement per group.

    Returns
    -------
    DataFrame
        ``kind, scheme, by, group`` and the :func:`performance` figures (``n, events, auc,
        auc_lower, auc_upper, citl ..., slope ..., observed, mean_predicted``), then
        ``note_en, note_zh``, ``overall_auc``, ``verdict`` ("worse", "not_worse", "too_few",
        "cannot_estimate"), ``statement_en``, ``statement_zh``. A blank group (e.g. an unknown
        age) is its own row, "unknown". A group whose calibration cannot be estimated (the
        outcome perfectly separated, one outcome only) gets blank figures and says why.
    """
    rows = []
    for (kind, scheme), g in predictions.groupby(["kind", "scheme"], sort=False):
        overall = c_statistic(g["y"], g["p"])["auc"].item()
        for by in groupings:
            groups = g[by].astype(object).where(g[by].notna(), "unknown")
            for group in sorted(pd.unique(groups), key=str):
                h = g[(groups == group).to_numpy(bool)]
                row = {"kind": kind, "scheme": scheme, "by": by, "group": group, **_figures(h["y"], h["p"]),
                       "overall_auc": overall}
                row["verdict"], row["statement_en"], row["statement_zh"] = _statement(row, overall)
                rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class ValidationReport:
    """Tables of a validation (:func:`validate`): every one tidy, fixed snake_case columns.

    Attributes
    ----------
    predictions : out-of-sample predictions, :data:`PREDICTION_COLUMNS`
    performance : per ``kind, scheme`` (:func:`performance`)
    by_split : per ``kind, scheme, split`` (each community left out; the temporal test set)
    calibration_curve : ``kind, scheme, predicted, observed, n`` (lowess, as rms::val.prob)
    decision_curve : ``kind, scheme, threshold, strategy, n, tp, fp, net_benefit``
    subgroups : :func:`subgroups`
    exclusions : the model frame's exclusions
    cut : the temporal cut date
    left_out : the predictors each fit left out by the spec's ``min_observed`` rule, decided on
        that fit's training rows only: :data:`LEFT_OUT_COLUMNS` (one row per split and predictor)
    """

    predictions: pd.DataFrame
    performance: pd.DataFrame
    by_split: pd.DataFrame
    calibration_curve: pd.DataFrame
    decision_curve: pd.DataFrame
    subgroups: pd.DataFrame
    exclusions: pd.DataFrame
    cut: pd.Timestamp
    spec: ModelSpec
    attrs: dict = field(default_factory=dict)
    left_out: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=LEFT_OUT_COLUMNS))

    @property
    def summary(self) -> pd.DataFrame:
        """Per ``kind, scheme``: ``n, events, auc (lower-upper), citl, slope, emax``, rounded."""
        p = self.performance
        return pd.DataFrame({"kind": p["kind"], "scheme": p["scheme"], "n": p["n"], "events": p["events"],
                             "auc": p["auc"].round(3), "auc_lower": p["auc_lower"].round(3),
                             "auc_upper": p["auc_upper"].round(3), "citl": p["citl"].round(3),
                             "slope": p["slope"].round(3), "emax": p["emax"].round(3)})

    def worse(self, lang: str = "en") -> list[str]:
        """The statements of the subgroups the rule calls worse, too few to judge or not estimable."""
        s = self.subgroups
        return s.loc[s["verdict"] != "not_worse", f"statement_{lang}"].tolist()

    def _repr_html_(self) -> str:
        left = ""
        if len(self.left_out):
            fits = self.left_out.groupby("name", sort=False).size()
            left = ("<p>Left out by the spec's min_observed rule (fits, of "
                    f"{len(self.by_split)}): " + ", ".join(f"{n} ({k})" for n, k in fits.items()) + "</p>")
        return (f"<h4>Validation of {self.spec.model_id} (temporal cut {self.cut.date()})</h4>"
                + self.summary.to_html(index=False) + left)


_KINDS_RULE = Predicate(lambda v: not isinstance(v, str) and len(list(v)) > 0 and all(k in KINDS for k in v)
                        and len(set(v)) == len(list(v)), f"a non-empty list of distinct kinds among {list(KINDS)}")


@validate_params({"kinds": _KINDS_RULE})
def validate(tables, *, spec: "str | Path | ModelSpec" = "not_improving", kinds: Sequence[str] = ("logistic", "boosting"),
             cut: Any = None, wearable_days: pd.DataFrame | None = None, frame: ModelFrame | None = None,
             thresholds: Sequence[float] | None = None) -> ValidationReport:
    """Temporal and leave-one-community-out validation of each model kind, with every table.

    Parameters
    ----------
    tables : workbench.tables.Tables
    spec : the model spec
    kinds : model kinds (:data:`workbench.risk.models.KINDS`)
    cut : the temporal cut (default :func:`default_cut`)
    wearable_days : the wearable_days table, optional
    frame : a ModelFrame already built from ``tables`` (skips building it again)
    thresholds : threshold risks of the decision curve (default 0.01 ... 0.60)

    Returns
    -------
    ValidationReport
    """
    spec = _as_spec(spec)
    frame = model_frame(tables, spec=spec, wearable_days=wearable_days) if frame is None else frame
    cut = default_cut(frame) if cut is None else pd.Timestamp(cut)
    parts = []
    for kind in kinds:
        parts.append(temporal_predictions(frame, kind=kind, cut=cut))
        parts.append(community_predictions(frame, kind=kind))
    left_out = _left_table([r for p in parts for r in p.attrs["left_out"]])
    pred = pd.concat(parts, ignore_index=True)
    curves, decisions = [], []
    for (kind, scheme), g in pred.groupby(["kind", "scheme"], sort=False):
        curves.append(calibration_curve(g["y"], g["p"]).assign(kind=kind, scheme=scheme))
        decisions.append(net_benefit(g["y"], g["p"], thresholds=thresholds).assign(kind=kind, scheme=scheme))
    curve = pd.concat(curves, ignore_index=True)
    curve = curve[["kind", "scheme"] + [c for c in curve.columns if c not in ("kind", "scheme")]]
    dc = pd.concat(decisions, ignore_index=True)
    dc = dc[["kind", "scheme"] + [c for c in dc.columns if c not in ("kind", "scheme")]]
    return ValidationReport(predictions=pred, performance=performance(pred),
                            by_split=performance(pred, by=("kind", "scheme", "split")), calibration_curve=curve,
                            decision_curve=dc, subgroups=subgroups(pred), exclusions=frame.exclusions, cut=cut,
                            spec=spec, attrs={"model": spec.model_id, "subgroup_rule": dict(SUBGROUP_RULE)},
                            left_out=left_out)

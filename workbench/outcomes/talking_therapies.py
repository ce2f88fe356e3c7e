"""NHS Talking Therapies (formerly IAPT) outcome metrics per referral, and their rates."""

from __future__ import annotations

import numpy as np
import pandas as pd

from workbench.outcomes._config import thresholds
from workbench.outcomes._inputs import Checker, column_names
from workbench.outcomes.pairs import talking_therapies
from workbench.params import COLUMNS, FRAME, TABLES, Either, Optional, Predicate, check, validate_params

__all__ = ["METRICS", "rates", "referral_outcomes"]

#: The rate metrics of :func:`rates`, in order.
METRICS = ["recovery", "reliable_improvement", "reliable_deterioration", "reliable_recovery"]

_FLAGS = ["finished_treatment", "caseness_start", "recovered", "reliable_improvement",
          "reliable_deterioration", "reliable_recovery"]


@validate_params({"assessments": Either(FRAME, TABLES, words="a pandas DataFrame or the analysis tables "
                                                              "(workbench.tables.Tables)"),
                  "contacts": Optional(FRAME),
                  "treatment_kinds": Predicate(lambda v: isinstance(v, (tuple, list)) and len(v) > 0
                                               and all(isinstance(k, str) for k in v), "a non-empty tuple of strings")})
def referral_outcomes(assessments, contacts: pd.DataFrame | None = None, *, referral: str = "referral_id",
                      subject: str = "resident_id", time: str = "assessed_on",
                      contact_time: str = "contact_on", kind: str = "kind", attended: str = "attended",
                      treatment_kinds: tuple[str, ...] = ("treatment",)) -> pd.DataFrame:
    """NHS Talking Therapies outcomes, one row per referral (first vs last paired scores).

    Parameters
    ----------
    assessments : DataFrame or Tables
        One row per assessment: ``subject``, ``referral`` (NA for plain screening: ignored),
        ``time`` (date) and the stored score columns ``phq9_score`` and ``gad7_score`` (NaN when
        not scorable), as :meth:`workbench.tables.Tables.referral_scores` gives them. Or the
        analysis tables themselves (:class:`workbench.tables.Tables`): their referral scores and
        the contacts of referrals are used (``contacts`` must then be left out).
    contacts : DataFrame
        One row per contact: ``subject``, ``referral``, ``contact_time`` (date), ``kind`` and
        ``attended`` (True/False; a blank is an error, never "no"); without an ``attended``
        column, a ``status`` column as the ``contacts`` table has it (``attended`` counts,
        ``planned`` and ``missed`` do not).
    referral, subject, time, contact_time, kind, attended : str
        Column names.
    treatment_kinds : tuple of str
        Values of ``kind`` that count as treatment contacts.

    Returns
    -------
    DataFrame
        One row per referral found in either table, sorted by referral: ``referral``, ``subject``,
        ``n_treatment_contacts`` (attended), ``finished_treatment`` (>= 2 attended treatment
        contacts), ``n_paired``, ``first_paired_on``, ``last_paired_on``, ``phq9_first``,
        ``gad7_first``, ``phq9_last``, ``gad7_last``, then nullable booleans:
        ``caseness_start`` and ``caseness_end`` (PHQ-9 >= 10 or GAD-7 >= 8; NA without a pair),
        ``recovered`` (at caseness at the start, below caseness on both at the end; applies to
        finished referrals at caseness at the start), ``reliable_improvement`` (PHQ-9 fall >= 6
        or GAD-7 fall >= 4, with no reliable deterioration on the other; applies to finished
        referrals with a pair), ``reliable_deterioration`` (PHQ-9 rise >= 6 or GAD-7 rise >= 4;
        same) and ``reliable_recovery`` (recovered and reliable improvement; where recovery
        applies). NA means "does not apply" or "cannot be known", never "no".

    Notes
    -----
    Pairing: a *paired* assessment is one row of ``assessments`` in the referral with both a
    PHQ-9 and a GAD-7 score. The first and last paired assessments (by date; same-day ties keep
    row order) give the start and end scores; with fewer than two there is no pair. A missing score
    is never read as 0. Thresholds and sources: ``thresholds.yaml`` (``talking_therapies``);
    the reliable-improvement rule is marked *check* in REFERENCE.md.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"resident_id": ["r1"] * 3 + ["r2"] * 2,
    ...                   "referral_id": ["A", "A", "A", "B", "B"],
    ...                   "assessed_on": ["2024-01-01", "2024-01-15", "2024-02-12", "2024-01-01", "2024-02-01"],
    ...                   "phq9_score": [16, 12, 7, 6, 5], "gad7_score": [12, None, 6, 5, 4]})
    >>> c = pd.DataFrame({"resident_id": ["r1", "r1", "r2"], "referral_id": ["A", "A", "B"],
    ...                   "contact_on": ["2024-01-15", "2024-01-29", "2024-01-15"],
    ...                   "kind": "treatment", "attended": [True, True, True]})
    >>> out = referral_outcomes(a, c)
    >>> out[["referral_id", "finished_treatment", "phq9_first", "phq9_last", "gad7_first", "gad7_last"]]
      referral_id  finished_treatment  phq9_first  phq9_last  gad7_first  gad7_last
    0           A                True        16.0        7.0        12.0        6.0
    1           B               False         6.0        5.0         5.0        4.0
    >>> out[["caseness_start", "recovered", "reliable_improvement", "reliable_recovery"]]
       caseness_start  recovered  reliable_improvement  reliable_recovery
    0            True       True                  True               True
    1           False       <NA>                  <NA>               <NA>
    """
    fn = "referral_outcomes"
    if not isinstance(assessments, pd.DataFrame):  # the analysis tables: they hold the contacts
        alone = "None when 'assessments' are the analysis tables (give the tables alone, or two frames)"
        check(fn, "contacts", contacts, Predicate(lambda c: c is None, alone))
        c = assessments.contacts  # contacts outside any referral (a follow-up after a discharge) are not its course
        assessments, contacts = assessments.referral_scores(("phq9", "gad7")), c[c["referral_id"].notna().to_numpy(bool)]
    else:
        check(fn, "contacts", contacts, Predicate(lambda c: c is not None,
                                                  "a pandas DataFrame when 'assessments' is a frame"))
    chk = Checker(fn)
    chk.frame(assessments, "assessments")
    chk.frame(contacts, "contacts")
    if attended not in contacts.columns and "status" in contacts.columns:
        contacts = _attended_from_status(contacts, attended, chk)
    ok_a = chk.require(assessments, "assessments", [subject, referral, time, "phq9_score", "gad7_score"])
    ok_c = chk.require(contacts, "contacts", [subject, referral, contact_time, kind, attended])
    if not (ok_a and ok_c):
        chk.done()
    linked = assessments[assessments[referral].notna()]
    a = pd.DataFrame({
        "referral": linked[referral].to_numpy(), "subject": chk.ids(linked, "assessments", subject).to_numpy(),
        "on": chk.dates(linked, "assessments", time).to_numpy(),
        "phq9": chk.scores(linked, "assessments", "phq9_score", "phq9").to_numpy(),
        "gad7": chk.scores(linked, "assessments", "gad7_score", "gad7").to_numpy(),
        "order": np.arange(len(linked))})
    c = pd.DataFrame({
        "referral": chk.ids(contacts, "contacts", referral).to_numpy(),
        "subject": chk.ids(contacts, "contacts", subject).to_numpy(),
        "on": chk.dates(contacts, "contacts", contact_time).to_numpy(),
        "treatment": contacts[kind].isin(list(treatment_kinds)).to_numpy(),
        "attended": chk.flags(contacts, "contacts", attended).to_numpy()})
    owners = pd.concat([a[["referral", "subject"]], c[["referral", "subject"]]]).dropna().drop_duplicates()
    clash = owners["referral"].duplicated(keep=False)
    for ref, group in owners[clash].groupby("referral", sort=True):
        chk.add("assessments/contacts", None, referral, ref,
                f"belongs to more than one {subject} ({sorted(map(str, group['subject']))}): a referral has one person")
    chk.done()

    t = thresholds()
    refs = owners.drop_duplicates("referral").set_index("referral")["subject"].sort_index()
    out = pd.DataFrame({"subject": refs})
    n_treat = c[c["treatment"] & c["attended"]].groupby("referral").size()
    out["n_treatment_contacts"] = n_treat.reindex(out.index, fill_value=0).astype("int64")
    out["finished_treatment"] = out["n_treatment_contacts"] >= t.tt_min_treatment_contacts

    paired = a[a["phq9"].notna() & a["gad7"].notna()].sort_values(["referral", "on", "order"], kind="stable")
    groups = paired.groupby("referral")
    out["n_paired"] = groups.size().reindex(out.index, fill_value=0).astype("int64")
    first, last = groups.head(1).set_index("referral"), groups.tail(1).set_index("referral")
    has_pair = (out["n_paired"] >= 2).to_numpy()
    for name, frame, col in (("first_paired_on", first, "on"), ("last_paired_on", last, "on"),
                             ("phq9_first", first, "phq9"), ("gad7_first", first, "gad7"),
                             ("phq9_last", last, "phq9"), ("gad7_last", last, "gad7")):
        values = frame[col].reindex(out.index)
        out[name] = values.where(has_pair)

    flags = talking_therapies(out["phq9_first"], out["gad7_first"], out["phq9_last"], out["gad7_last"])
    finished = out["finished_treatment"].to_numpy()
    out["caseness_start"] = flags["caseness_start"]
    out["caseness_end"] = flags["caseness_end"]
    for name in ("recovered", "reliable_improvement", "reliable_deterioration", "reliable_recovery"):
        values = flags[name].copy()
        values[~finished] = pd.NA  # the outcomes of a course of treatment: finished referrals only
        out[name] = values
    out = out.rename_axis(referral).reset_index().rename(columns={"subject": subject})
    out.attrs.update(thresholds_version=t.version, treatment_kinds=tuple(treatment_kinds))
    return out


def _attended_from_status(contacts: pd.DataFrame, attended: str, chk: Checker) -> pd.DataFrame:
    """``contacts`` with ``attended`` (True/False) from the declared ``status`` column."""
    from workbench.tables import CONTACT_STATUS

    status = contacts["status"]
    bad = ~status.isin(CONTACT_STATUS).fillna(False).to_numpy(bool)
    for label, value in zip(contacts.index[bad], status.to_numpy(dtype=object)[bad]):
        chk.add("contacts", label, "status", None if pd.isna(value) else value,
                f"must be one of {', '.join(CONTACT_STATUS)} (a blank is not 'missed')")
    return contacts.assign(**{attended: (status == "attended").fillna(False).astype(bool)})


@validate_params({"outcomes": FRAME, "by": COLUMNS})
def rates(outcomes: pd.DataFrame, *, by: str | list[str] | None = None) -> pd.DataFrame:
    """NHS Talking Therapies rates from :func:`referral_outcomes`, with REFERENCE.md's denominators.

    Parameters
    ----------
    outcomes : DataFrame
        The output of :func:`referral_outcomes` (other columns, e.g. a service or tier, may be
        joined on for ``by``).
    by : str or list of str, optional
        Columns to compute the rates within (NA is a group of its own).

    Returns
    -------
    DataFrame
        For each group and metric: the ``by`` columns, ``metric`` (``recovery``,
        ``reliable_improvement``, ``reliable_deterioration``, ``reliable_recovery``),
        ``numerator``, ``denominator``, ``rate`` (NaN when the denominator is 0) and
        ``no_paired_scores``: finished referrals in the denominator without a pair of scores
        (they can never count in the numerator; a data-quality count to watch).

    Notes
    -----
    Denominators (REFERENCE.md): recovery and reliable recovery = finished treatment minus
    finished referrals *known* not to be at caseness at the start; reliable improvement and
    reliable deterioration = all finished referrals.

    Examples
    --------
    >>> import pandas as pd
    >>> o = pd.DataFrame({"finished_treatment": [True, True, True, False],
    ...                   "caseness_start": pd.array([True, False, True, True], dtype="boolean"),
    ...                   "recovered": pd.array([True, None, False, None], dtype="boolean"),
    ...                   "reliable_improvement": pd.array([True, True, False, None], dtype="boolean"),
    ...                   "reliable_deterioration": pd.array([False, False, False, None], dtype="boolean"),
    ...                   "reliable_recovery": pd.array([True, None, False, None], dtype="boolean")})
    >>> rates(o)
                       metric  numerator  denominator      rate  no_paired_scores
    0                recovery          1            2  0.500000                 0
    1    reliable_improvement          2            3  0.666667                 0
    2  reliable_deterioration          0            3  0.000000                 0
    3       reliable_recovery          1            2  0.500000                 0
    """
    fn = "rates"
    keys = column_names(by, fn, "by")
    chk = Checker(fn)
    chk.frame(outcomes, "outcomes")
    if not chk.require(outcomes, "outcomes", _FLAGS + keys):
        chk.done()
    flags = {}
    for col in _FLAGS:
        try:
            flags[col] = outcomes[col].astype("boolean")
        except (TypeError, ValueError):
            chk.add("outcomes", None, col, str(outcomes[col].dtype),
                    "must be a (nullable) boolean column, as referral_outcomes returns it")
    chk.done()
    frame = pd.DataFrame(flags, index=outcomes.index)
    finished = frame["finished_treatment"].fillna(False).to_numpy(bool)
    known = {col: frame[col].notna().to_numpy() for col in _FLAGS}
    true = {col: frame[col].fillna(False).to_numpy(bool) for col in _FLAGS}
    not_case = finished & known["caseness_start"] & ~true["caseness_start"]
    no_pair = finished & ~known["caseness_start"]
    table = pd.DataFrame({
        "recovery_num": finished & true["recovered"], "recovery_den": finished & ~not_case,
        "reliable_improvement_num": finished & true["reliable_improvement"], "reliable_improvement_den": finished,
        "reliable_deterioration_num": finished & true["reliable_deterioration"], "reliable_deterioration_den": finished,
        "reliable_recovery_num": finished & true["reliable_recovery"], "reliable_recovery_den": finished & ~not_case,
        "no_pair": no_pair,
    }, index=outcomes.index)
    for key in keys:
        table[key] = outcomes[key]
    sums = table.groupby(keys, dropna=False, sort=True).sum() if keys else table.sum().to_frame().T
    rows = []
    for group, row in sums.iterrows():
        labels = dict(zip(keys, group if isinstance(group, tuple) else (group,))) if keys else {}
        for metric in METRICS:
            num, den = int(row[f"{metric}_num"]), int(row[f"{metric}_den"])
            rows.append({**labels, "metric": metric, "numerator": num, "denominator": den,
                         "rate": num / den if den else float("nan"), "no_paired_scores": int(row["no_pair"])})
    out = pd.DataFrame(rows, columns=keys + ["metric", "numerator", "denominator", "rate", "no_paired_scores"])
    out = out.astype({"numerator": "int64", "denominator": "int64", "rate": "float64", "no_paired_scores": "int64"})
    out.attrs["thresholds_version"] = thresholds().version
    return out

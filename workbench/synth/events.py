"""Step ``events``: ER visits, crises, cardiovascular events, hospital admissions and death.

Each kind has a hazard per person-year that depends on exact age, sex, the chronic conditions
and the latent depression on the day (:func:`workbench.synth.history.latent_on`, which includes
the trial intervention's effect); ER visits of the trial's intervention arm are lowered further
in the trial year (``events`` and ``trial`` in ``params.yaml``). Events are drawn by thinning:
candidate times from a constant upper bound of the person's hazard, each kept with probability
hazard / bound. Recurrent kinds may happen several times (at most once a day); death competes
with everything (no event after the day of death). A cardiovascular event may be admitted to
hospital the same day and be fatal within 28 days; a crisis may go to the ER and be admitted.

Draws come in one sub-stream per kind and year of follow-up (counted from each resident's
screening), so the events up to a date do not depend on how long the follow-up is. Events are
dated from the day after the screening to ``follow_up_end``. Treatment courses were generated
before deaths: a death that would fall inside a resident's course (between the referral and
its last contact) is postponed by the course's length, and a cardiovascular event inside a
course is not fatal, so that nobody has contacts after their death.
"""

from __future__ import annotations

import numpy as np

from workbench.registry.schema import EVENT_KINDS

from .conditions import CONDITIONS
from .engine import Draft, name_key, register
from .history import NEVER, fluctuation_bound, latent_on
from .trial import INTERVENTION

EVENTS_KEY = 14
KINDS = tuple(EVENT_KINDS)
CODE = {kind: np.int8(i) for i, kind in enumerate(KINDS)}
YEAR_DAYS = 365
FATAL_WITHIN_DAYS = 28


def follow_up_years_needed(first: np.ndarray, last: np.datetime64, days: float) -> int:
    """Number of periods of ``days`` needed to reach ``last`` from the earliest of ``first``."""
    if len(first) == 0:
        return 0
    span = (np.asarray(last, dtype="datetime64[D]") - np.min(first)).astype(np.int64)
    return int(max(0, np.ceil(span / days)))


class _Hazards:
    """Log-hazards of one resident population, evaluated at (resident, day) pairs."""

    def __init__(self, draft: Draft):
        self.draft = draft
        r = draft.residents
        self.screen = draft.screenings["assessed_on"].astype("datetime64[D]")
        birth = r["birth_date"].astype("datetime64[D]")
        self.age0 = (self.screen - birth).astype(np.float64) / 365.25
        male = ~r["female"]
        self.static, self.background = {}, {}
        for kind, spec in draft.params["events"]["kinds"].items():
            self.background[kind] = np.log(spec.get("background", 0.0) / 1000.0) \
                if spec.get("background", 0.0) > 0 else -np.inf
            eta = np.full(draft.n, np.log(spec["rate_at_60"] / 1000.0))
            eta += np.log(spec["male_hr"]) * male
            for name in CONDITIONS:
                eta += np.log(spec["condition_hr"][name]) * r[name]
            self.static[kind] = eta
        self.dep_low, self.dep_high = self._depression_range()
        tr = draft.work["trial"]
        self.arm, self.enrolled, self.trial_end = tr["arm"], tr["enrolled_on"], tr["trial_end"]
        self.er_ratio = draft.params["trial"]["effect"]["er_rate_ratio"]

    def _depression_range(self) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of each resident's latent depression over any follow-up."""
        d = self.draft
        base = d.latent["depression"]
        low, high = base.copy(), base.copy()
        ref = d.referrals
        if "depression" in ref.get("target", {}) and len(ref["resident"]):
            who, target = ref["resident"], ref["target"]["depression"]
            low[who] = np.minimum(low[who], target)
            high[who] = np.maximum(high[who], target)
        h = d.work["history"]
        if "depression" in h["traits"]:
            for values in (h["theta_anchor"]["depression"], h["mu"]["depression"]):
                low, high = np.minimum(low, values), np.maximum(high, values)
            z = fluctuation_bound(d)
            low, high = low - z, high + z
        shift = d.params["trial"]["effect"]["latent_shift"]
        return low - max(shift, 0.0), high + max(-shift, 0.0)

    def bound(self, kind: str, year: int) -> np.ndarray:
        """Log of an upper bound of the hazard (per year) of every resident in ``year``."""
        spec = self.draft.params["events"]["kinds"][kind]
        slope, dep = spec["age_per_decade"], spec["depression"]
        age = self.age0 + (year + 1 if slope >= 0 else year)
        log = self.static[kind] + slope * (age - 60.0) / 10.0
        log = log + dep * (self.dep_high if dep >= 0 else self.dep_low)
        log = np.logaddexp(self.background[kind], log)
        if kind == "er_visit":
            log = log + max(np.log(self.er_ratio), 0.0)
        return log

    def log_hazard(self, kind: str, who: np.ndarray, offset: np.ndarray) -> np.ndarray:
        """Log-hazard (per year) of residents ``who`` on day ``offset`` after their screening."""
        spec = self.draft.params["events"]["kinds"][kind]
        day = self.screen[who] + offset.astype("timedelta64[D]")
        age = self.age0[who] + offset / 365.25
        depression = latent_on(self.draft, "depression", who, day)
        log = (self.static[kind][who] + spec["age_per_decade"] * (age - 60.0) / 10.0
               + spec["depression"] * depression)
        log = np.logaddexp(self.background[kind], log)
        if kind == "er_visit":
            trial_year = ((self.arm[who] == INTERVENTION) & (day >= self.enrolled[who])
                          & (day < self.trial_end[who]))
            log = log + np.log(self.er_ratio) * trial_year
        return log


def _draw(draft: Draft, hz: _Hazards, kind: str, years: int, span: np.ndarray,
          extra: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Accepted events of ``kind``: resident, day offset (1 ..), ``extra`` uniforms each."""
    owners, offsets, uniforms = [], [], []
    for year in range(years):
        rng = draft.rng(EVENTS_KEY, name_key(kind), year)
        bound = hz.bound(kind, year)
        counts = rng.poisson(np.exp(bound))               # one year of candidates
        owner = np.repeat(np.arange(draft.n), counts)
        u = rng.random((len(owner), 2 + extra))
        offset = YEAR_DAYS * year + np.floor(YEAR_DAYS * u[:, 0]).astype(np.int64) + 1
        inside = offset <= span[owner]
        owner, offset, u = owner[inside], offset[inside], u[inside]
        keep = np.log(u[:, 1]) < hz.log_hazard(kind, owner, offset) - bound[owner]
        owners.append(owner[keep])
        offsets.append(offset[keep])
        uniforms.append(u[keep, 2:])
    if not owners:
        return (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                np.zeros((0, extra)))
    return np.concatenate(owners), np.concatenate(offsets), np.concatenate(uniforms)


@register("events", key=EVENTS_KEY, needs=("trial", "natural_history", "contacts"))
def events(draft: Draft, rng: np.random.Generator) -> None:
    """Events (resident, date, kind) up to ``follow_up_end`` and each resident's death date."""
    ep, n = draft.params["events"], draft.n
    hz = _Hazards(draft)
    screen = hz.screen
    span = (np.datetime64(draft.follow_up_end, "D") - screen).astype(np.int64)
    years = follow_up_years_needed(screen, draft.follow_up_end, YEAR_DAYS)

    # Treatment courses (days after the screening = referral): no death inside them.
    course = np.zeros(n, dtype=np.int64)
    ref = draft.referrals
    if len(ref.get("resident", ())):
        course[ref["resident"]] = ref["end_day"]

    big = np.iinfo(np.int64).max // 4
    who, day, _ = _draw(draft, hz, "death", years, span, 0)
    death = np.full(n, big, dtype=np.int64)
    np.minimum.at(death, who, day)
    in_course = (death >= 1) & (death <= course)
    death = np.where(in_course, death + course, death)

    rows_who, rows_day, rows_kind = [], [], []

    def add(w: np.ndarray, d: np.ndarray, kind: str) -> None:
        rows_who.append(w)
        rows_day.append(d)
        rows_kind.append(np.full(len(w), CODE[kind], dtype=np.int8))

    who, day, u = _draw(draft, hz, "cardiovascular_event", years, span, 3)
    add(who, day, "cardiovascular_event")
    add(who[u[:, 0] < ep["cardiovascular_hospitalised"]],
        day[u[:, 0] < ep["cardiovascular_hospitalised"]], "hospitalisation")
    fatal = (u[:, 1] < ep["cardiovascular_fatal_28d"]) & (day > course[who])
    fatal_day = day + np.floor(FATAL_WITHIN_DAYS * u[:, 2]).astype(np.int64)
    np.minimum.at(death, who[fatal], fatal_day[fatal])

    for kind in ("hospitalisation", "er_visit"):
        who, day, _ = _draw(draft, hz, kind, years, span, 0)
        add(who, day, kind)
    who, day, u = _draw(draft, hz, "crisis", years, span, 2)
    add(who, day, "crisis")
    add(who[u[:, 0] < ep["crisis_er_visit"]], day[u[:, 0] < ep["crisis_er_visit"]], "er_visit")
    add(who[u[:, 1] < ep["crisis_hospitalised"]], day[u[:, 1] < ep["crisis_hospitalised"]],
        "hospitalisation")

    died = death <= span
    add(np.flatnonzero(died), death[died], "death")
    w, d, k = np.concatenate(rows_who), np.concatenate(rows_day), np.concatenate(rows_kind)
    keep = (d <= span[w]) & (d <= death[w])
    w, d, k = w[keep], d[keep], k[keep]
    order = np.lexsort((k, d, w))
    w, d, k = w[order], d[order], k[order]
    first = np.ones(len(w), dtype=bool)                  # at most one of a kind a day
    first[1:] = (w[1:] != w[:-1]) | (d[1:] != d[:-1]) | (k[1:] != k[:-1])
    w, d, k = w[first], d[first], k[first]
    draft.tables["events"] = {"resident": w, "on": screen[w] + d.astype("timedelta64[D]"),
                              "kind": k}
    draft.work["death_on"] = np.where(died, screen + np.minimum(death, span).astype(
        "timedelta64[D]"), NEVER)

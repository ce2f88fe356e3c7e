"""Tests of the long follow-up of the synthetic community (workbench.synth): events, loss to
follow-up, monthly community follow-up, the cohort of key patients with waves and the 12-month
RCT.

Calibration targets and their sources:
- DESIGN.md, service model: a 12-month RCT of 500 chronic patients (intervention vs usual care)
  with anxiety or depression about 32% lower (relative) than control and ER visits about 27%
  lower; a 5-year cohort of 300 key patients with 4 waves.
- Anxiety or depression = PHQ-9 >= 10 or GAD-7 >= 10 (REFERENCE.md: Kroenke 2001, Spitzer
  2006), scored here with workbench.score; a person is "known" when either is scored.
  ER visits = ``er_visit`` events in the 12 months after enrolment, per participant (ITT).
- Death rates: plausible adult rates per 1,000 person-years (China around 2020, orders of
  magnitude only, see params.yaml: ~8 overall, ~0.7 at 18-39, ~85 at 80+).
Tolerances: the RCT ranges are the brief's (22-42% and 15-40%); at n = 200,000 the trial has
33,333 participants, so the SE of the anxiety-or-depression reduction is ~1.5 points and of the
ER reduction ~2.5 points (seeds 1, 2 and 20261126 at 100,000-300,000 gave 32-36% and 25-31%).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

import workbench
from workbench.instruments import get_instrument
from workbench.registry.schema import EVENT_KINDS
from workbench.synth import Community, _params, community, engine
from workbench.synth.__main__ import main
from workbench.synth.core import generate
from workbench.synth.frames import follow_up_frames, ids
from workbench.tables import read

CONDITIONS = ["hypertension", "diabetes", "chd", "stroke", "copd", "asthma"]
ITEMS = [f"phq9_{k}" for k in range(1, 11)] + [f"gad7_{k}" for k in range(1, 8)]
OLD_STEPS = ("demography", "schedule", "conditions", "latent", "answers", "missingness",
             "skip_logic", "referral", "contacts", "trajectory", "followup_answers",
             "followup_missingness", "followup_skip_logic")


@pytest.fixture(scope="module")
def long() -> Community:
    """Large and long: calibration (trial, death rates), 5 years."""
    return community(200_000, seed=20261126, follow_up_years=5)


@pytest.fixture(scope="module")
def mid() -> Community:
    return community(3_000, seed=11, follow_up_years=3)


def day(x) -> np.ndarray:
    return pd.to_datetime(x).to_numpy().astype("datetime64[D]")


def scored(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(phq=workbench.score(frame, "phq9")["score"].to_numpy(),
                        gad=workbench.score(frame, "gad7")["score"].to_numpy())


# ---------------------------------------------------------------- arguments and streams

def test_new_steps_have_new_keys():
    keys = {s.name: s.key for s in engine.STEPS.values()}
    assert [keys[k] for k in ("natural_history", "loss_to_follow_up", "trial", "events",
                              "maintenance", "waves", "trial_assessments")] == list(range(11, 18))
    used = [k for k in keys.values() if k is not None]
    assert len(used) == len(set(used))


def test_existing_frames_do_not_depend_on_the_new_steps(small):
    # Only the steps that existed before the long follow-up: same five frames.
    c = small
    draft = engine.Draft(n=2_000, seed=11, start=np.datetime64("2025-01-01"),
                         end=np.datetime64("2025-12-31"), instruments=c.instruments,
                         params=_params.load(), follow_up_end=np.datetime64("2026-12-31"),
                         policy=workbench.load_policy("default"))
    engine.run(draft, OLD_STEPS)
    assert "events" not in engine.order(OLD_STEPS)
    old = follow_up_frames(draft, ids("R", 2_000))
    for name in ("referrals", "contacts", "followups"):   # referrals gained columns (keys 21, 22)
        pd.testing.assert_frame_equal(old[name], getattr(c, name)[old[name].columns], check_categorical=False)


def test_longer_follow_up_keeps_the_treatment_courses(mid):
    one = community(3_000, seed=11)
    pd.testing.assert_frame_equal(mid.residents, one.residents)
    pd.testing.assert_frame_equal(mid.screenings, one.screenings)
    pd.testing.assert_frame_equal(mid.referrals, one.referrals)
    pd.testing.assert_frame_equal(mid.enrolments, one.enrolments)
    cols = ["resident_id", "referral_id", "contact_on", "kind", "attended"]
    course = mid.contacts[mid.contacts["referral_id"].notna()][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(course, one.contacts[cols])
    cols = [c for c in one.followups.columns if c != "contact_id"]
    course = mid.followups[mid.followups["referral_id"].notna()][cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(course, one.followups[cols])


def test_a_longer_follow_up_extends_a_shorter_one(mid):
    two = community(3_000, seed=11, follow_up_years=2)
    cut = pd.Timestamp(two.follow_up_end)
    assert cut == pd.Timestamp("2027-12-31")
    for name, col in (("events", "event_on"), ("waves", "assessed_on"),
                      ("trial_assessments", "assessed_on"), ("contacts", "contact_on"),
                      ("followups", "assessed_on")):
        a, b = getattr(mid, name), getattr(two, name)
        drop = [c for c in ("event_id", "contact_id", "days") if c in a.columns]
        head = a[a[col] <= cut].drop(columns=drop).reset_index(drop=True)
        pd.testing.assert_frame_equal(head, b.drop(columns=drop), obj=name)
    # An earlier follow_up_end only cuts.
    early = community(3_000, seed=11, follow_up_years=3, follow_up_end="2026-06-30")
    e = mid.events[mid.events["event_on"] <= "2026-06-30"].reset_index(drop=True)
    pd.testing.assert_frame_equal(early.events.drop(columns=["event_id", "days"]),
                                  e.drop(columns=["event_id", "days"]))
    # A hospital stay's length is the same, or blank when the stay had not ended by the
    # shorter follow-up's end (its length was not known then).
    for short, end in ((two, cut), (early, pd.Timestamp("2026-06-30"))):
        longer = mid.events[mid.events["event_on"] <= end].reset_index(drop=True)["days"]
        known = short.events["days"].notna()
        assert (short.events["days"][known] == longer[known]).all()
        unknown = (short.events["kind"] == "hospitalisation") & ~known
        ends = short.events["event_on"][unknown] + pd.to_timedelta(longer[unknown].astype(float), unit="D")
        assert (ends.isna() | (ends > end)).all() and unknown.any()


def test_same_seed_same_data_other_seed_other_data(mid):
    again = community(3_000, seed=11, follow_up_years=3)
    for name in ("events", "waves", "enrolments", "trial_assessments", "contacts", "followups"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(mid, name), obj=name)
    other = community(3_000, seed=12, follow_up_years=3)
    assert not other.events.equals(mid.events)
    assert not other.enrolments.equals(mid.enrolments)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"follow_up_years": 0}, "The 'follow_up_years' parameter of community must be an int in "
                             "[1, 5]. Got 0 instead."),
    ({"follow_up_years": 6}, "Got 6 instead."),
    ({"follow_up_years": 2.0}, "Got 2.0 instead."),
    ({"follow_up_years": True}, "Got True instead."),
    ({"follow_up_end": "2027-01-01"},
     "The 'follow_up_end' parameter of community must be a date at most follow_up_years (1) x "
     "365 days after end (on or before 2026-12-31). Got '2027-01-01' instead."),
    ({"follow_up_end": "2028-01-01", "follow_up_years": 2}, "(on or before 2027-12-31)"),
])
def test_follow_up_years_validation(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        community(200, **kwargs)


def test_default_follow_up_end_and_cli(tmp_path):
    c = community(200, seed=1, follow_up_years=4)
    assert c.follow_up_end == np.datetime64("2025-12-31") + np.timedelta64(4 * 365, "D")
    assert c.follow_up_years == 4 and "follow_up_years=4" in repr(c)
    assert main(["--n", "200", "--seed", "1", "--follow-up-years", "4", "--out",
                 str(tmp_path)]) == 0
    back = read(tmp_path)
    assert back.attrs["source"] == "synth" and back.attrs["seed"] == 1
    assert back.events["event_on"].max() <= pd.Timestamp(c.follow_up_end)
    assert len(back.events) == len(c.events) + len(c.care_events)
    assert back.contacts["contact_on"].max() > pd.Timestamp("2027-12-31")   # beyond 1 year


def test_params_of_the_long_follow_up_check_themselves():
    for section, key, value, message in (
            ("trial", "block_size", 3, "'trial.block_size' must be an even whole number >= 2"),
            ("events", "crisis_er_visit", 1.5, "'events.crisis_er_visit' must be a probability"),
            ("cohort", "wave_months", [24, 12], "'cohort.wave_months' must be a non-empty, "
                                                "strictly increasing list")):
        raw = _params.load()
        raw.pop("_derived")
        raw[section][key] = value
        with pytest.raises(ValueError, match=re.escape(message)):
            _params.check(raw)
    raw = _params.load()
    raw.pop("_derived")
    raw["events"]["kinds"].pop("crisis")
    with pytest.raises(ValueError, match="one entry per registry event kind"):
        _params.check(raw)


# ---------------------------------------------------------------- events

def test_event_schema(mid):
    e = mid.events
    assert e.columns.tolist() == ["event_id", "resident_id", "event_on", "kind", "days"]
    assert str(e["days"].dtype) == "Int16"
    assert e.loc[e["kind"] != "hospitalisation", "days"].isna().all()
    assert e["event_id"].tolist() == list(range(1, len(e) + 1))
    assert str(e["event_id"].dtype) == "int64" and str(e["event_on"].dtype).startswith("datetime64")
    assert e["kind"].cat.categories.tolist() == list(EVENT_KINDS)
    # psychiatric emergencies and discharges come from the crises step (Community.care_events)
    assert set(e["kind"]) == set(EVENT_KINDS) - {"psychiatric_emergency", "psychiatric_discharge"}
    assert e["resident_id"].isin(mid.residents["resident_id"]).all()
    assert not e.duplicated(["resident_id", "event_on", "kind"]).any()
    key = pd.DataFrame({"r": e["resident_id"], "d": e["event_on"], "k": e["kind"].cat.codes})
    assert key.equals(key.sort_values(["r", "d", "k"]))


def test_events_within_follow_up_and_nothing_after_death(long):
    e = long.events
    screened = long.screenings.set_index("resident_id")["assessed_on"]
    assert (e["event_on"].to_numpy() > screened.loc[e["resident_id"]].to_numpy()).all()
    assert (e["event_on"] <= pd.Timestamp(long.follow_up_end)).all()
    deaths = e[e["kind"] == "death"]
    assert deaths["resident_id"].is_unique
    died = deaths.set_index("resident_id")["event_on"]
    dead = e[e["resident_id"].isin(died.index)]
    assert (dead["event_on"].to_numpy() <= died.loc[dead["resident_id"]].to_numpy()).all()
    last = dead.groupby("resident_id").tail(1)               # death is each one's last row
    assert (last["kind"] == "death").all()
    # Nothing of the living kind after death: contacts, reviews, waves, trial assessments.
    for name, col in (("contacts", "contact_on"), ("followups", "assessed_on"),
                      ("waves", "assessed_on"), ("trial_assessments", "assessed_on")):
        f = getattr(long, name)
        f = f[f["resident_id"].isin(died.index)]
        assert (f[col].to_numpy() < died.loc[f["resident_id"]].to_numpy()).all(), name


def person_years(c: Community) -> tuple[pd.DataFrame, pd.Series]:
    r = c.residents.set_index("resident_id")
    screened = c.screenings.set_index("resident_id")["assessed_on"]
    died = c.events[c.events["kind"] == "death"].set_index("resident_id")["event_on"]
    stop = pd.Series(pd.Timestamp(c.follow_up_end), index=r.index)
    stop.loc[died.index] = died
    counts = (c.events.groupby(["resident_id", "kind"], observed=False).size()
              .unstack(fill_value=0).reindex(r.index, fill_value=0))
    return counts, (stop - screened).dt.days / 365.25


def test_death_rates_are_plausible(long):
    counts, years = person_years(long)
    r = long.residents.set_index("resident_id")
    assert 5 <= 1000 * counts["death"].sum() / years.sum() <= 12       # adults, ~8 per 1,000
    band = pd.cut(r["age"], [17, 39, 49, 59, 69, 79, 120])
    rate = 1000 * counts["death"].groupby(band, observed=True).sum() / years.groupby(
        band, observed=True).sum()
    assert rate.is_monotonic_increasing
    assert rate.iloc[0] < 2 and 5 <= rate.iloc[3] <= 20 and 50 <= rate.iloc[-1] <= 150
    by_sex = (counts["death"].groupby(r["sex"], observed=True).sum()
              / years.groupby(r["sex"], observed=True).sum())
    assert 1.1 < by_sex["male"] / by_sex["female"] < 2.5
    assert 0.02 < (counts["death"] > 0).mean() < 0.08                   # 5-6 years


def test_events_depend_on_conditions_age_and_depression(long):
    counts, years = person_years(long)
    r = long.residents.set_index("resident_id")
    cat_a = r[["hypertension", "chd", "stroke"]].any(axis=1)
    cv = counts["cardiovascular_event"].groupby(cat_a).sum() / years.groupby(cat_a).sum()
    assert cv[True] > 4 * cv[False]                                     # mainly category A
    assert 0.005 < cv[True] < 0.05
    assert counts.loc[cat_a, "cardiovascular_event"].sum() > 0.7 * counts[
        "cardiovascular_event"].sum()
    phq = workbench.score(long.screenings, "phq9")["score"].set_axis(long.screenings["resident_id"])
    low, high = phq < 5, phq >= 15
    for kind, factor in (("crisis", 2.5), ("er_visit", 1.3), ("hospitalisation", 1.1)):
        # over 5 years (severe cases are treated, and traits regress to the mean)
        rate = counts[kind] / years
        assert rate[high].mean() > factor * rate[low].mean(), kind
    er = counts["er_visit"].sum() / years.sum()
    assert 0.05 < er < 0.3
    hosp = counts["hospitalisation"] / years
    assert hosp[r["age"] >= 70].mean() > 2 * hosp[r["age"] < 50].mean()


# ---------------------------------------------------------------- the 12-month RCT

def test_enrolments(mid):
    en = mid.enrolments
    assert en.columns.tolist() == ["resident_id", "study", "arm", "enrolled_on"]
    assert len(en) == 500 and en["resident_id"].is_unique
    assert set(en["study"]) == {"rct_12m"}
    assert en["arm"].cat.categories.tolist() == ["intervention", "usual_care"]
    r = mid.residents.set_index("resident_id").loc[en["resident_id"]]
    assert r[CONDITIONS].any(axis=1).all()                              # chronic patients
    screened = mid.screenings.set_index("resident_id")["assessed_on"]
    assert (en["enrolled_on"].to_numpy() == screened.loc[en["resident_id"]].to_numpy()).all()
    in_order = en.sort_values(["enrolled_on", "resident_id"])["arm"].to_numpy()
    running = np.cumsum(np.where(in_order == "intervention", 1, -1))
    assert np.abs(running).max() <= 2                                   # permuted blocks of 4
    assert abs((en["arm"] == "intervention").sum() - 250) <= 2


def test_trial_size_scales_with_n_and_takes_all_when_few_are_eligible():
    assert len(community(600, seed=3).enrolments) == 100
    raw = _params.load()
    raw.pop("_derived")
    raw["trial"]["participants"] = 10**6
    c = generate(300, seed=3, start=np.datetime64("2025-01-01"),
                 end=np.datetime64("2025-12-31"), instruments=("phq9", "gad7"),
                 params=_params.check(raw))
    chronic = c.residents.loc[c.residents[CONDITIONS].any(axis=1), "resident_id"]
    assert sorted(c.enrolments["resident_id"]) == sorted(chronic)


def test_trial_assessments(mid):
    t, en = mid.trial_assessments, mid.enrolments.set_index("resident_id")
    assert t.columns.tolist() == ["resident_id", "study", "month", "assessed_on", "mode",
                                  "language"] + ITEMS
    assert set(t["month"]) == {6, 12} and set(t["study"]) == {"rct_12m"}
    assert t["resident_id"].isin(en.index).all()
    assert not t.duplicated(["resident_id", "month"]).any()
    days = (t["assessed_on"].to_numpy() - en.loc[t["resident_id"], "enrolled_on"].to_numpy())
    days = days / np.timedelta64(1, "D")
    due = np.rint(30.4375 * t["month"].to_numpy())
    assert ((days >= due - 28) & (days <= due)).all()
    assert 0.8 < (t["month"] == 12).sum() / len(en) < 0.97             # retention at 12 months
    for col in ITEMS:
        assert str(t[col].dtype) == "Int8" and t[col].dropna().between(0, 3).all()


def trial_effects(c: Community) -> dict[str, float]:
    en = c.enrolments.set_index("resident_id")
    a = scored(c.trial_assessments[c.trial_assessments["month"] == 12])
    known = a["phq"].notna() | a["gad"].notna()
    a = a[known]
    positive = (a["phq"] >= 10) | (a["gad"] >= 10)
    arm = en.loc[a["resident_id"], "arm"].astype(str).to_numpy()
    p = positive.groupby(arm).mean()
    er = c.events[(c.events["kind"] == "er_visit") & c.events["resident_id"].isin(en.index)]
    after = (er["event_on"].to_numpy() - en.loc[er["resident_id"], "enrolled_on"].to_numpy())
    after = after / np.timedelta64(1, "D")
    er = er[(after > 0) & (after <= 365)]
    visits = er.groupby(en.loc[er["resident_id"], "arm"].astype(str).to_numpy()).size()
    rate = visits / en["arm"].astype(str).value_counts()
    return {"control": p["usual_care"],
            "anxdep_reduction": 1 - p["intervention"] / p["usual_care"],
            "er_reduction": 1 - rate["intervention"] / rate["usual_care"],
            "er_control": rate["usual_care"]}


def test_rct_effects_have_the_service_model_size(long):
    assert len(long.enrolments) == 200_000 * 500 // 3000
    effects = trial_effects(long)
    assert 0.22 <= effects["anxdep_reduction"] <= 0.42                  # service model: 32%
    assert 0.15 <= effects["er_reduction"] <= 0.40                      # service model: 27%
    assert 0.20 <= effects["control"] <= 0.45
    assert 0.1 <= effects["er_control"] <= 0.4


# ---------------------------------------------------------------- cohort waves

def test_waves_of_key_patients(long):
    w = long.waves
    assert w.columns.tolist() == ["resident_id", "wave", "assessed_on", "mode", "language"] + ITEMS
    assert str(w["wave"].dtype) == "int64" and set(w["wave"]) == {0, 1, 2, 3, 4}
    key = w.loc[w["wave"] == 0, "resident_id"]
    assert len(key) == 300 and set(w["resident_id"]) == set(key)
    ref = long.referrals.set_index("resident_id")
    assert key.isin(ref.index).all()
    r = long.residents.set_index("resident_id").loc[key]
    assert r[CONDITIONS].any(axis=1).all()
    assert not w.duplicated(["resident_id", "wave"]).any()
    s = long.screenings.set_index("resident_id")
    base = w[w["wave"] == 0].set_index("resident_id")
    pd.testing.assert_frame_equal(base[["assessed_on", "mode", "language"] + ITEMS],
                                  s.loc[base.index, ["assessed_on", "mode", "language"] + ITEMS])
    later = w[w["wave"] > 0]
    days = (later["assessed_on"].to_numpy() - s.loc[later["resident_id"], "assessed_on"]
            .to_numpy()) / np.timedelta64(1, "D")
    due = np.rint(30.4375 * 12 * later["wave"].to_numpy())             # about 12, 24, ... months
    assert (np.abs(days - due) <= 30).all()
    assert (w["assessed_on"] <= pd.Timestamp(long.follow_up_end)).all()
    share = w["wave"].value_counts().sort_index() / 300
    assert share.is_monotonic_decreasing and 0.45 < share[4] < 0.85   # death, loss, missed


def test_cohort_size_and_short_follow_up():
    one = community(1_000, seed=4)
    assert one.waves["resident_id"].nunique() == 100                    # 300 x 1000 / 3000
    waves = one.waves["wave"].value_counts()
    assert set(waves.index) <= {0, 1, 2} and waves.get(2, 0) < 0.05 * waves[0]  # 1 year after end
    assert (one.waves["assessed_on"] <= pd.Timestamp(one.follow_up_end)).all()


# ---------------------------------------------------------------- monthly follow-up, loss

def test_one_year_has_no_maintenance_contacts(small):
    c = small
    assert c.contacts["referral_id"].notna().all() and not (c.contacts["kind"] == "visit").any()
    assert c.contacts["kind"].cat.categories.tolist() == ["treatment", "assessment", "phone",
                                                          "visit"]


def test_monthly_contacts_after_a_completed_course(long):
    c = long.contacts
    m = c[c["referral_id"].isna()]
    assert set(m["kind"]) == {"phone", "visit", "assessment"}
    completed = long.referrals[long.referrals["end_reason"] == "completed"]
    assert set(m["resident_id"]) <= set(completed["resident_id"])
    ended = completed.set_index("resident_id")["ended_on"]
    assert (m["contact_on"].to_numpy() > ended.loc[m["resident_id"]].to_numpy()).all()
    gaps = m.groupby("resident_id")["contact_on"].diff().dt.days.dropna()
    assert 27 <= gaps.median() <= 34 and gaps.min() >= 30 - 2 * 3 - 1
    assert 0.10 < (~m["attended"]).mean() < 0.20
    reviews = (m["kind"] == "assessment").mean()
    assert 0.28 < reviews < 0.38                                        # every third month
    # Dropout (loss to follow-up): many alive residents stop having contacts before the end.
    died = set(long.events.loc[long.events["kind"] == "death", "resident_id"])
    last = m.groupby("resident_id")["contact_on"].max()
    alive = last[~last.index.isin(died)]
    stopped = alive < pd.Timestamp(long.follow_up_end) - pd.Timedelta(days=120)
    assert 0.15 < stopped.mean() < 0.6


def test_remission_is_observable_over_the_follow_up(long):
    f = scored(long.followups)
    s = scored(long.screenings)
    ref = long.referrals
    base = s.set_index("resident_id").loc[ref["resident_id"], "phq"]
    depressed = base[base >= 10].index
    g = f[f["resident_id"].isin(depressed) & f["phq"].notna()]
    maint = g[g["referral_id"].isna()]
    assert len(maint) > len(g) / 2                                      # reviews after year 1
    assert (maint["week"] > 52 * 3).any()
    first = g[g["phq"] < 5].groupby("resident_id")["assessed_on"].min()
    remitted = len(first) / len(depressed)
    assert 0.3 < remitted < 0.8
    weeks = (first - s.set_index("resident_id").loc[first.index, "assessed_on"]).dt.days / 7
    assert 8 <= weeks.median() <= 60
    mreviews = long.followups[long.followups["referral_id"].isna()]
    contacts = long.contacts.set_index("contact_id").loc[mreviews["contact_id"]]
    assert (contacts["kind"] == "assessment").all() and contacts["attended"].all()
    assert contacts["referral_id"].isna().all()


# ---------------------------------------------------------------- files, model

def test_long_follow_up_as_analysis_tables(mid, tmp_path):
    t = mid.tables()
    # monthly community follow-up after a course: contacts and reviews without a referral
    maintenance = mid.followups[mid.followups["referral_id"].isna()]
    reviews = t.assessments[t.assessments["purpose"] == "review"]
    alone = reviews[reviews["referral_id"].isna()].drop_duplicates(["resident_id", "assessed_on"])
    assert len(maintenance) > 100 and len(alone) == len(maintenance)
    course = t.contacts.iloc[:len(mid.contacts)]      # then psychiatric reviews and contacts after a discharge
    assert (course["referral_id"].isna() == mid.contacts["referral_id"].isna().to_numpy()).all()
    assert set(course.loc[course["referral_id"].isna(), "kind"]) == {"phone", "visit", "assessment"}
    # cohort waves 1, 2, ... and the trial's 6- and 12-month visits are study visits
    study = t.assessments[t.assessments["purpose"] == "study"].drop_duplicates(["resident_id", "assessed_on", "study"])
    waves = mid.waves[mid.waves["wave"] > 0]
    cohort = study[study["study"] == "cohort_5y"].sort_values(["resident_id", "visit"])
    assert (cohort["visit"].to_numpy() == waves.sort_values(["resident_id", "wave"])["wave"].to_numpy()).all()
    assert set(cohort["visit"]) == set(waves["wave"]) >= {1, 2, 3}
    trial = study[study["study"] == "rct_12m"]
    assert len(trial) == len(mid.trial_assessments) and set(trial["visit"]) == {6, 12}
    # the enrolment date of both studies is the baseline screening
    enrolled = t.enrolments.set_index(["resident_id", "study"])["enrolled_on"]
    screened = mid.screenings.set_index("resident_id")["assessed_on"]
    assert (enrolled.to_numpy() == screened.loc[enrolled.index.get_level_values(0)].to_numpy()).all()
    # events: every generated event, each with its own id
    assert len(t.events) == len(mid.events) + len(mid.care_events) and t.events["event_id"].is_unique
    assert (t.events["kind"].astype(str).to_numpy()[:len(mid.events)] == mid.events["kind"].astype(str).to_numpy()).all()
    # written as CSV and as Parquet, both read back as the same tables
    mid.write(tmp_path / "csv")
    mid.write(tmp_path / "pq", format="parquet")
    c = pd.read_csv(tmp_path / "csv" / "contacts.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert ((c["referral_id"] == "") == t.contacts["referral_id"].isna().to_numpy()).all()
    from_csv, from_parquet = read(tmp_path / "csv"), read(tmp_path / "pq")
    for name in ("events", "enrolments", "assessments", "scores", "contacts"):
        pd.testing.assert_frame_equal(from_csv[name], t[name], obj=name)
        pd.testing.assert_frame_equal(from_parquet[name], t[name], obj=name)


def _draft(n: int, instruments: tuple[str, ...]) -> engine.Draft:
    draft = engine.Draft(n=n, seed=5, start=np.datetime64("2025-01-01"),
                         end=np.datetime64("2025-12-31"), instruments=instruments,
                         params=_params.load(), follow_up_end=np.datetime64("2030-12-30"),
                         policy=workbench.load_policy("default"), follow_up_years=5)
    return engine.run(draft)


def test_untreated_traits_keep_the_population_distribution():
    from workbench.synth.history import latents_on

    # WHO-5 only: nobody is referred, so nobody is treated but the trial's intervention arm
    # (chosen on chronic disease and at random, not on the traits): the others' traits are
    # mu + N(0, 1) at baseline and must stay so, with new episodes and recoveries.
    draft = _draft(50_000, ("who5",))
    assert (draft.work["referral_of"] < 0).all()
    everyone = np.arange(draft.n)
    later = draft.screenings["assessed_on"] + np.timedelta64(3 * 365, "D")
    theta = latents_on(draft, ["depression", "anxiety"], everyone, later)
    h = draft.work["history"]
    plain = draft.work["trial"]["arm"] != 0
    for trait in ("depression", "anxiety"):
        residual = (theta[trait] - h["mu"][trait])[plain]
        assert abs(residual.mean()) < 0.03 and abs(residual.std() - 1.0) < 0.03, trait
        r = np.corrcoef(theta[trait][plain], draft.latent[trait][plain])[0, 1]
        assert 0.4 < r < 0.7, trait                                     # ~0.5 after 3 years
    rho = np.corrcoef(theta["depression"] - h["mu"]["depression"],
                      theta["anxiety"] - h["mu"]["anxiety"])[0, 1]
    assert 0.6 < rho < 0.9                                              # traits move together


def test_course_reviews_see_the_same_traits():
    from workbench.synth.history import latents_on
    from workbench.synth.trajectory import trait_at

    draft = _draft(5_000, ("phq9", "gad7"))
    f = draft.followups
    a = latents_on(draft, ["depression"], f["resident"], f["assessed_on"])["depression"]
    assert np.array_equal(a, trait_at(draft, "depression", f["resident"], f["assessed_on"]))


def test_event_kinds_are_the_registry_kinds():
    from workbench.synth.events import KINDS

    assert KINDS == tuple(EVENT_KINDS)
    # every registry kind is drawn from a hazard here, except the psychiatric emergencies and
    # discharges of residents in care (workbench/synth/pathways.py, params ``crises``)
    hazard = set(EVENT_KINDS) - {"psychiatric_emergency", "psychiatric_discharge"}
    assert set(_params.load()["events"]["kinds"]) == hazard
    assert get_instrument("phq9").item_columns == ITEMS[:9]

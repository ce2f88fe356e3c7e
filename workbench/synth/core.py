"""The public entry point :func:`community` and the :class:`Community` it returns."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import answers as _answers  # noqa: F401  (registers steps)
from . import conditions as _conditions  # noqa: F401
from . import contacts as _contacts  # noqa: F401
from . import demography as _demography  # noqa: F401
from . import events as _events  # noqa: F401
from . import followup as _followup  # noqa: F401
from . import history as _history  # noqa: F401
from . import latent as _latent  # noqa: F401
from . import maintenance as _maintenance  # noqa: F401
from . import studies as _studies  # noqa: F401
from . import trajectory as _trajectory  # noqa: F401
from . import trial as _trial  # noqa: F401
from . import satisfaction as _satisfaction  # noqa: F401  (key 18)
from . import measurements as _measurements  # noqa: F401  (key 19)
from . import smd as _smd  # noqa: F401  (key 20)
from . import pathways as _pathways  # noqa: F401  (keys 21-25; imported last)
from workbench.params import Interval, Optional, Options, validate_params

from ._checks import DATE, check_date, check_instruments, fail
from ._params import COMMUNITY_TYPES, available_instruments, load
from .conditions import CONDITIONS
from .engine import Draft, run
from .frames import follow_up_frames, ids, study_frames
from .measurements import measurement_frame
from .pathways import pathway_frames
from .referral import check_policy
from .satisfaction import satisfaction_frame
from .smd import smd_frames

DEFAULT_INSTRUMENTS = ("phq9", "gad7", "who5", "ucla3", "k10", "phq15", "pss10")
N_MIN, N_MAX = 100, 1_000_000
FORMATS = ("csv", "parquet")

RESIDENT_COLUMNS = ("resident_id", "sex", "birth_date", "age", "community", "community_type",
                    "lives_alone", *CONDITIONS, "ckd")
SCREENING_COLUMNS = ("resident_id", "assessed_on", "mode", "language")
FRAMES = ("residents", "screenings", "referrals", "contacts", "followups", "events", "waves",
          "enrolments", "trial_assessments", "satisfaction", "measurements", "smd_register",
          "smd_followups", "smd_rehab", "care_contacts", "care_events", "literacy")
FOLLOW_UP_DAYS = 365
MAX_FOLLOW_UP_YEARS = 5


class Community:
    """A generated community: residents, one baseline screening each, latent traits, and the
    follow-up of those referred (referrals, contacts, reviews).

    Built by :func:`community`; not meant to be constructed by hand.

    Attributes
    ----------
    residents : pandas.DataFrame
        One row per resident: ``resident_id, sex, birth_date, age, community,
        community_type, lives_alone, hypertension, diabetes, chd, stroke, copd, asthma, ckd``
        (``ckd``: chronic kidney disease, nullable boolean, recorded for most residents with
        hypertension or diabetes, blank = not recorded).
    screenings : pandas.DataFrame
        One row per baseline screening: ``resident_id, assessed_on, mode, language`` and the
        item columns ``{instrument}_{n}`` (pandas ``Int8``, blank = ``<NA>``).
    latent : pandas.DataFrame
        The baseline latent traits (index ``resident_id``; one float column per trait).
    referrals : pandas.DataFrame
        One row per resident whose baseline tier (``workbench.screen`` with ``policy``) is 2 or
        3: ``referral_id, resident_id, referred_on`` (= the screening date), ``tier``,
        ``rule``, ``ended_on`` and ``end_reason`` (``completed`` / ``dropped_out``; both blank
        while the referral is still open at ``follow_up_end``), ``referral_source`` (blank = not
        recorded), and for tier 3 the hospital's ``appointment_on`` and ``hospital_seen_on``
        (blank: none booked, not seen or not reported; :mod:`workbench.synth.pathways`).
    contacts : pandas.DataFrame
        ``contact_id, resident_id, referral_id, contact_on, kind`` (``treatment``,
        ``assessment``, ``phone``), ``attended`` (bool), ordered by referral and date: the
        treatment course (and the monthly follow-up after it).
    followups : pandas.DataFrame
        One row per attended review (``assessment`` contact): ``resident_id, referral_id,
        contact_id, assessed_on, week`` (whole weeks since the referral), ``mode, language``
        and the PHQ-9 and GAD-7 item columns as in ``screenings``. With ``follow_up_years``
        >= 2, the monthly community follow-up after a completed course adds contacts
        (``phone``, ``visit``, quarterly ``assessment``) and reviews with a blank
        ``referral_id``.
    events : pandas.DataFrame
        ``event_id`` (1, 2, ...), ``resident_id``, ``event_on``, ``kind`` (the registry's
        event kinds: ``er_visit``, ``crisis``, ``cardiovascular_event``, ``hospitalisation``,
        ``death``), from the day after the screening to ``follow_up_end``; nothing after a
        death; at most one event of a kind per resident and day; ``days`` the stay of a
        hospitalisation.
    waves : pandas.DataFrame
        The cohort of key patients: ``resident_id, wave`` (0 = the baseline screening, 1, 2,
        ... about 12, 24, ... months later), ``assessed_on, mode, language`` and the PHQ-9 and
        GAD-7 item columns; no wave after death, loss to follow-up or ``follow_up_end``.
    enrolments : pandas.DataFrame
        The 12-month RCT: ``resident_id, study`` (``rct_12m``), ``arm`` (``intervention`` /
        ``usual_care``), ``enrolled_on`` (= the baseline screening).
    trial_assessments : pandas.DataFrame
        The RCT's follow-up assessments: ``resident_id, study, month`` (6, 12),
        ``assessed_on, mode, language`` and the PHQ-9 and GAD-7 item columns.
    satisfaction : pandas.DataFrame
        The service-user survey at the end of each ended referral (none for open ones):
        ``resident_id, referral_id, surveyed_on, satisfied`` (nullable boolean) and ``rating``
        (``Int8``, 1-5); both blank when the survey was not answered.
    measurements : pandas.DataFrame
        The chronic-disease follow-up of residents with hypertension or diabetes
        (:mod:`workbench.synth.measurements`): one row per reading, the columns of the
        ``measurements`` analysis table without ``measurement_id``: face-to-face visits
        (``setting`` clinic or home) about quarterly from a year before the screening (they
        were managed before the programme reached them), one on the screening day, rechecks
        after an uncontrolled reading, and readings of the residents' own devices
        (``device``) from the screening on; none after death, loss to follow-up or
        ``follow_up_end``.
    smd_register, smd_followups, smd_rehab : pandas.DataFrame
        The severe-mental-disorder register (about 5 per 1,000 residents), its follow-ups
        (each classified by :func:`workbench.smd.classify` when saved, the outcome as staff
        recorded it) and the steps of the community rehabilitation ladder
        (:mod:`workbench.synth.smd`): the columns of the analysis tables of the same names
        without ``followup_id`` and ``rehab_id``, from one year before ``start`` to
        ``follow_up_end``.
    care_contacts : pandas.DataFrame
        Contacts outside the course schedule (:mod:`workbench.synth.pathways`), columns as
        ``contacts`` without ``contact_id``: the psychiatric case reviews
        (``psychiatric_review``) of referrals not improving in weeks 8-12, then the contacts
        (``visit``, ``phone``) after a psychiatric discharge (``referral_id`` blank after the
        course). The analysis table ``contacts`` appends them after ``contacts``, with the next ids.
    care_events : pandas.DataFrame
        The mental-health crises of residents in care (``crisis``, ``psychiatric_emergency``) and
        ``psychiatric_discharge`` (``days`` = the stay), columns as ``events`` without
        ``event_id``; the analysis table ``events`` appends them after ``events``.
    literacy : pandas.DataFrame
        The programme's mental-health literacy questions (asked at some screenings and at the
        last review of some completed courses): the columns of the ``literacy`` analysis table
        without ``literacy_id`` and ``recorded_by``; ``n_correct`` blank = not recorded.
    seed, start, end, instruments, follow_up_end, follow_up_years
        The arguments the community was generated with; ``policy`` is the policy's label.
    """

    def __init__(self, residents: pd.DataFrame, screenings: pd.DataFrame,
                 latent: pd.DataFrame, *, seed: int, start: np.datetime64,
                 end: np.datetime64, instruments: tuple[str, ...], params_version: str,
                 referrals: pd.DataFrame | None = None, contacts: pd.DataFrame | None = None,
                 followups: pd.DataFrame | None = None, follow_up_end: np.datetime64 | None = None,
                 policy: str | None = None, events: pd.DataFrame | None = None,
                 waves: pd.DataFrame | None = None, enrolments: pd.DataFrame | None = None,
                 trial_assessments: pd.DataFrame | None = None, follow_up_years: int = 1,
                 satisfaction: pd.DataFrame | None = None, policy_object: Any = None,
                 measurements: pd.DataFrame | None = None, smd_register: pd.DataFrame | None = None,
                 smd_followups: pd.DataFrame | None = None, smd_rehab: pd.DataFrame | None = None,
                 literacy: pd.DataFrame | None = None, care_contacts: pd.DataFrame | None = None,
                 care_events: pd.DataFrame | None = None):
        self.residents = residents
        self.screenings = screenings
        self.latent = latent
        self.referrals = referrals
        self.contacts = contacts
        self.followups = followups
        self.events = events
        self.waves = waves
        self.enrolments = enrolments
        self.trial_assessments = trial_assessments
        self.satisfaction = satisfaction
        self.measurements = measurements
        self.smd_register = smd_register
        self.smd_followups = smd_followups
        self.smd_rehab = smd_rehab
        self.literacy = literacy
        self.care_contacts = care_contacts
        self.care_events = care_events
        self.follow_up_end = follow_up_end
        self.follow_up_years = follow_up_years
        self.policy = policy
        #: The loaded policy itself (``policy`` is its label), for recording the decisions.
        self.policy_object = policy_object
        self.seed = seed
        self.start = start
        self.end = end
        self.instruments = instruments
        self.params_version = params_version

    def __repr__(self) -> str:
        return (f"Community(n={len(self.residents)}, seed={self.seed}, start={self.start}, "
                f"end={self.end}, instruments={self.instruments}, "
                f"follow_up_end={self.follow_up_end}, follow_up_years={self.follow_up_years}, "
                f"policy={self.policy!r})")

    def tables(self):
        """The community as analysis tables (:class:`workbench.tables.Tables`): every form stored
        and scored as the registry stores it, and the suggested tiers confirmed
        (:func:`workbench.synth.tables.community_tables`)."""
        from workbench.synth.tables import community_tables

        return community_tables(self)

    @validate_params({"format": Options(*FORMATS)}, name="Community.write")
    def write(self, folder: str | os.PathLike, *, format: str = "csv") -> Path:
        """Write the community's analysis tables (:meth:`tables`) to ``folder`` as CSV or Parquet,
        with the data dictionary and ``tables.json`` (:func:`workbench.tables.write`); files of the
        same names are replaced, each written under a temporary name first. Read it back with
        :func:`workbench.tables.read`. The latent traits are not written.

        Examples
        --------
        >>> import tempfile
        >>> from workbench.tables import read
        >>> c = community(200, seed=1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = c.write(folder)
        ...     len(read(folder).residents)
        200
        """
        from workbench.tables import write

        return write(self.tables(), folder, formats=(format,), overwrite=True)


@validate_params({"n": Interval(int, N_MIN, N_MAX), "seed": Interval(int, 0, None), "start": DATE, "end": DATE,
                  "follow_up_end": Optional(DATE), "follow_up_years": Interval(int, 1, MAX_FOLLOW_UP_YEARS)})
def community(n: int, *, seed: int = 20261126, start: Any = "2025-01-01",
              end: Any = "2025-12-31",
              instruments: Iterable[str] = DEFAULT_INSTRUMENTS, follow_up_end: Any = None,
              policy: Any = "default", follow_up_years: int = 1) -> Community:
    """Generate a synthetic community of adult residents with one baseline screening each,
    and the follow-up of those the stepped-care policy refers (tier 2 or 3).

    Residents get an age, sex, community, living situation and six chronic-condition flags;
    correlated latent traits (depression, anxiety, somatic symptoms, stress, wellbeing,
    distress, loneliness) drive item-level answers through a graded response model; a few
    answers are left blank. Residents whose baseline tier (``workbench.screen`` with
    ``policy``) is 2 or 3 are referred on their screening day and get contacts (treatment
    sessions, reviews, phone calls; missed appointments; dropout) and PHQ-9 / GAD-7 reviews
    whose latent traits change over time (most improve, some do not, a few deteriorate).
    The figures the data are calibrated to are those of the service
    model (DESIGN.md) and are listed, with every parameter and its source, in
    ``workbench/synth/params.yaml``. The data are synthetic: no real person is described.

    Parameters
    ----------
    n : int
        Number of residents, in [100, 1000000].
    seed : int, default 20261126
        Non-negative seed. Same arguments and seed -> identical data.
    start, end : str, datetime.date or numpy.datetime64
        First and last possible screening date (inclusive; ISO strings ``YYYY-MM-DD``).
    instruments : sequence of str
        Questionnaires to answer, among ``phq9, gad7, who5, ucla3, k10, phq15, pss10``; item
        columns follow this order. Each instrument has its own random stream, so the answers to
        one do not depend on which others are asked.
    follow_up_end : str, datetime.date or numpy.datetime64, optional
        Last day of follow-up (on or after ``end`` and at most ``follow_up_years`` x 365 days
        after it; default: that last day): no contact, review, event or assessment after it,
        referrals still in care then are open. Rows up to a date do not depend on
        ``follow_up_end``.
    policy : str, path or workbench.Policy, default "default"
        The stepped-care policy that decides the baseline tier (a shipped id, a YAML file).
    follow_up_years : int, default 1
        Length of follow-up in years, 1 to 5 (365 days each, after ``end``). With 1 the
        referrals get their treatment course (the one-year service view of the committed
        sample); from 2 on, residents who complete their course stay in monthly community
        follow-up (phone calls, visits, quarterly reviews) until death, loss to follow-up or
        the end. Events, cohort waves and trial assessments follow whatever the length.

    Returns
    -------
    Community
        With ``residents``, ``screenings``, ``latent``, ``referrals``, ``contacts``,
        ``followups``, ``events``, ``waves``, ``enrolments``, ``trial_assessments``,
        ``satisfaction``, ``measurements``, ``smd_register``, ``smd_followups``, ``smd_rehab``,
        ``care_contacts``, ``care_events`` and ``literacy`` DataFrames and :meth:`Community.write`.

    Raises
    ------
    ValueError
        If an argument breaks its rule; the message names the parameter, the rule and the value.

    Notes
    -----
    Every component (demography, schedule, conditions, latent traits, answers per
    instrument, missingness) draws from its own ``numpy.random.SeedSequence`` spawn-stream,
    so components added later do not change what the existing ones produce
    (see ``workbench.synth.engine``). Missing answers are ``<NA>``, never 0; PHQ-9 question 10
    is blank when the PHQ-9 total of the answered items is 0, PHQ-15 item 4 is blank for men.

    Examples
    --------
    >>> c = community(500, seed=7)
    >>> c.residents.shape, c.screenings.shape
    ((500, 14), (500, 64))
    >>> c.residents.columns[:7].tolist()
    ['resident_id', 'sex', 'birth_date', 'age', 'community', 'community_type', 'lives_alone']
    >>> int(c.residents["age"].min()) >= 18
    True
    >>> str(c.screenings["phq9_1"].dtype)
    'Int8'
    >>> c.screenings.equals(community(500, seed=7).screenings)
    True
    """
    caller = "community"
    n, seed = int(n), int(seed)
    start_day = check_date(start, "start", caller)
    end_day = check_date(end, "end", caller)
    if end_day < start_day:
        fail("end", caller, f"a date on or after start ({start_day})", end)
    names = check_instruments(instruments, "instruments", caller, available_instruments())
    years = int(follow_up_years)
    latest = end_day + np.timedelta64(FOLLOW_UP_DAYS * years, "D")
    if follow_up_end is None:
        last_day = latest
    else:
        last_day = check_date(follow_up_end, "follow_up_end", caller)
        if last_day < end_day:
            fail("follow_up_end", caller, f"a date on or after end ({end_day})", follow_up_end)
        if last_day > latest:
            fail("follow_up_end", caller, f"a date at most follow_up_years ({years}) x "
                 f"{FOLLOW_UP_DAYS} days after end (on or before {latest})", follow_up_end)
    loaded = check_policy(policy, "policy", caller)
    return generate(n, seed=seed, start=start_day, end=end_day, instruments=names,
                    params=load(), follow_up_end=last_day, policy=loaded, follow_up_years=years)


def generate(n: int, *, seed: int, start: np.datetime64, end: np.datetime64,
             instruments: tuple[str, ...], params: dict[str, Any],
             follow_up_end: np.datetime64 | None = None, policy: Any = "default",
             follow_up_years: int = 1) -> Community:
    """Run every registered step with checked arguments and ``params`` (see ``_params.check``).

    The unchecked back door used by :func:`community` and by the calibration script
    (``follow_up_end`` defaults to ``end`` + 365 x ``follow_up_years`` days).
    """
    if follow_up_end is None:
        follow_up_end = end + np.timedelta64(FOLLOW_UP_DAYS * follow_up_years, "D")
    draft = run(Draft(n=n, seed=seed, start=start, end=end, instruments=instruments,
                      params=params, follow_up_end=follow_up_end,
                      policy=check_policy(policy, "policy", "generate"),
                      follow_up_years=follow_up_years))
    return _assemble(draft)


def _categorical(codes: np.ndarray, categories: Iterable[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int32), categories=list(categories))


def _assemble(draft: Draft) -> Community:
    r, s, w = draft.residents, draft.screenings, draft.work
    rid = ids("R", draft.n)
    residents = pd.DataFrame({
        "resident_id": rid,
        "sex": _categorical(~r["female"], ["female", "male"]),
        "birth_date": r["birth_date"].astype("datetime64[ns]"),
        "age": w["age_years"].astype(np.int64),
        "community": _categorical(w["community_code"], w["community_labels"]),
        "community_type": _categorical(w["community_type_code"], COMMUNITY_TYPES),
        "lives_alone": r["lives_alone"],
        **{c: r[c] for c in CONDITIONS},
        "ckd": pd.arrays.BooleanArray(w["ckd"]["value"], ~w["ckd"]["known"]),
    })
    columns: dict[str, Any] = {
        "resident_id": rid,
        "assessed_on": s["assessed_on"].astype("datetime64[ns]"),
        "mode": _categorical(s["interviewer"], ["self", "interviewer"]),
        "language": _categorical(s["english"], ["zh", "en"]),
    }
    models = draft.params["_derived"]["item_models"]
    for name in draft.instruments:
        values = np.asfortranarray(w["answers"][name])
        blank = np.asfortranarray(w["blank"][name])
        for j, col in enumerate(models[name].columns):
            columns[col] = pd.arrays.IntegerArray(values[:, j], blank[:, j])
    screenings = pd.DataFrame(columns)
    latent = pd.DataFrame(draft.latent, index=pd.Index(rid, name="resident_id"))
    follow_up = follow_up_frames(draft, rid)
    studies = study_frames(draft, rid)
    extra = pathway_frames(draft, rid, follow_up["referrals"]["referral_id"].to_numpy())
    follow_up["referrals"] = follow_up["referrals"].assign(**extra["referral_columns"])
    return Community(residents, screenings, latent, seed=draft.seed, start=draft.start,
                     end=draft.end, instruments=draft.instruments,
                     params_version=str(draft.params.get("version")),
                     follow_up_end=draft.follow_up_end, policy=draft.policy.label,
                     policy_object=draft.policy,
                     follow_up_years=draft.follow_up_years,
                     satisfaction=satisfaction_frame(draft, rid, ids("F", len(draft.referrals["resident"]))),
                     measurements=measurement_frame(draft, rid),
                     **smd_frames(draft, rid), literacy=extra["literacy"], care_contacts=extra["contacts"],
                     care_events=extra["events"], **follow_up, **studies)

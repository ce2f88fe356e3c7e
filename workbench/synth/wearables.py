"""Synthetic wristband streams: minute-level heart rate and steps, RMSSD over 5-minute windows
asleep and one sleep episode a night, with wear gaps and a physiological response to low mood and
to illness (issue 17). Not part of the sample yet: a function to call.

:func:`device_streams` returns the readings in the canonical shape of the wearables contract
(one reading per row: ``resident_id, device_id, kind, start, end, value, tz``);
:func:`device_arrays` returns the same data as minute matrices (:class:`DeviceArrays`), the form
the benchmark uses for a million resident-days, and :meth:`DeviceArrays.to_readings` turns them into
the canonical frame.

The model, per resident ``i`` and local calendar day ``d`` (every number, with its source or marked
illustrative, is in the ``wearables`` section of ``params.yaml``):

- lasting per-person levels: nocturnal resting heart rate (age, sex, between-person SD), nocturnal
  RMSSD (log-normal, falling with age), steps a day (log-normal, falling with age), walking cadence,
  habitual sleep onset and duration, and the person's own share of days without the band;
- day-to-day noise around them, plus the effects of a low-mood or illness episode covering the day
  (each scaled by the episode's ``severity`` in [0, 1]): lower RMSSD, higher resting HR, fewer
  steps, a later and more irregular sleep onset (mood) or longer sleep (illness). The night of day
  ``d`` (the sleep ending on the morning of ``d``) takes the levels and effects of day ``d``;
- minute by minute: asleep between onset and waking; heart rate = the day's resting level, plus
  (awake) an awake offset, a circadian cosine and a rise with walking cadence, plus AR(1) noise;
  walking minutes in bouts (a thresholded AR(1) process) with a morning and a late-afternoon peak,
  scaled so the day's expected steps are the day's level; RMSSD of each 5-minute window asleep
  scatters log-normally around the night's level;
- wear: whole days without the band in runs (a two-state Markov chain with the declared long-run
  share and mean run length), nights with the band taken off (from up to an hour before sleep to up
  to an hour after waking), and a daytime charge every few days. Heart rate and steps exist only for
  worn minutes; a sleep episode only when the band was worn the whole night, and RMSSD only for the
  5-minute windows inside a recorded episode (a night cut short by a gap gives neither). A missing reading is absent, never 0.

Time: the local clock of ``tz`` (a fixed-offset zone such as Asia/Shanghai), converted to UTC for
``start``/``end``. So that every day from ``start`` to ``end`` has its night, the readings run from
local noon of the day before ``start`` to local midnight at the end of ``end``.

Random numbers come from one ``numpy.random.Generator`` seeded with ``seed`` (no global state); the
same arguments give the same readings.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from scipy.signal import lfilter
from scipy.special import ndtr

from workbench._errors import RowProblemsError
from workbench.params import FRAME, Instance, Interval, Optional, validate_params

from ._checks import DATE, check_date, fail
from ._params import load

__all__ = ["KINDS", "READING_COLUMNS", "DeviceArrays", "check_params", "device_arrays", "device_streams",
           "wearable_params"]

#: The reading kinds of the contract, in order (``rr_interval`` is never generated here).
KINDS = ("heart_rate", "rr_interval", "hrv_rmssd", "step_count", "sleep_episode")
#: The columns of the canonical readings frame, in order.
READING_COLUMNS = ["resident_id", "device_id", "kind", "start", "end", "value", "tz"]
DAY = 1440          # minutes in a day
WINDOW = 5          # minutes per RMSSD window
NOON = 720
EPISODE_COLUMNS = ("resident_id", "start", "end", "severity")
MAX_DAYS = 3660

# --- parameters ------------------------------------------------------------------------------

#: ``section.key -> (low, high)`` for every number of the ``wearables`` section.
_BOUNDS = {
    "age_reference": (0, 120),
    "heart_rate.sleep_mean": (30, 120), "heart_rate.female": (-20, 20), "heart_rate.age_per_decade": (-10, 10),
    "heart_rate.person_sd": (0, 30), "heart_rate.night_sd": (0, 20), "heart_rate.awake_offset": (0, 60),
    "heart_rate.circadian_amplitude": (0, 30), "heart_rate.circadian_peak_hour": (0, 24),
    "heart_rate.per_step": (0, 2), "heart_rate.minute_sd": (0, 30), "heart_rate.minute_ar": (0, 0.999),
    "rmssd.at_reference_age": (1, 300), "rmssd.log_per_decade": (-2, 2), "rmssd.person_log_sd": (0, 2),
    "rmssd.night_log_sd": (0, 2), "rmssd.window_log_sd": (0, 2),
    "steps.per_day_at_reference_age": (0, 50000), "steps.log_per_decade": (-3, 3), "steps.person_log_sd": (0, 3),
    "steps.day_log_sd": (0, 3), "steps.cadence": (20, 200), "steps.cadence_sd": (0, 60), "steps.bout_ar": (0, 0.999),
    "steps.night_walk_p": (0, 0.2), "steps.morning_peak_hour": (0, 24), "steps.afternoon_peak_hour": (0, 24),
    "steps.peak_width_hours": (0.1, 12), "steps.morning_peak": (0, 10), "steps.afternoon_peak": (0, 10),
    "sleep.onset_hour": (-5, 4), "sleep.onset_person_sd": (0, 4), "sleep.onset_night_sd": (0, 4),
    "sleep.duration_hours": (3, 12), "sleep.duration_per_decade": (-2, 2), "sleep.duration_person_sd": (0, 4),
    "sleep.duration_night_sd": (0, 4), "sleep.min_duration_hours": (1, 8),
    "wear.p_day_off": (0, 0.95), "wear.day_off_run_days": (1, 60), "wear.person_concentration": (0.1, 1e6),
    "wear.p_night_off": (0, 1), "wear.night_off_margin_minutes": (0, 240), "wear.charge_every_days": (1, 365),
}
_EFFECTS = {"rmssd_log": (-3, 3), "resting_hr": (-40, 40), "steps_log": (-5, 5), "onset_shift_hours": (-6, 6),
            "onset_sd_factor": (0, 10), "duration_hours": (-6, 6)}
for _section in ("mood", "illness"):
    _BOUNDS.update({f"{_section}.{k}": v for k, v in _EFFECTS.items()})


def _bad(key: str, rule: str, value: Any) -> None:
    raise ValueError(f"params.yaml: 'wearables.{key}' must be {rule}. Got {value!r} instead.")


def check_params(wp: Mapping[str, Any]) -> dict[str, Any]:
    """Check the ``wearables`` section of ``params.yaml`` (a mapping); return a deep copy.

    Every number must lie in its declared range (:data:`_BOUNDS`); the error names the key.

    Examples
    --------
    >>> wp = wearable_params()
    >>> check_params(wp)["tz"]
    'Asia/Shanghai'
    >>> wp["wear"]["p_night_off"] = 1.5
    >>> check_params(wp)
    Traceback (most recent call last):
    ...
    ValueError: params.yaml: 'wearables.wear.p_night_off' must be a number in [0, 1]. Got 1.5 instead.
    """
    wp = copy.deepcopy(dict(wp))
    for key, (low, high) in _BOUNDS.items():
        node: Any = wp
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, bool) or not isinstance(node, (int, float)) or not low <= node <= high:
            _bad(key, f"a number in [{low}, {high}]", node)
    lo_hi = wp["wear"].get("charge_minutes")
    if (not isinstance(lo_hi, (list, tuple)) or len(lo_hi) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in lo_hi)
            or not 1 <= lo_hi[0] <= lo_hi[1] <= 600):
        _bad("wear.charge_minutes", "a [low, high] pair of minutes with 1 <= low <= high <= 600", lo_hi)
    if wp["sleep"]["min_duration_hours"] > wp["sleep"]["duration_hours"]:
        _bad("sleep.min_duration_hours", "at most sleep.duration_hours", wp["sleep"]["min_duration_hours"])
    try:
        ZoneInfo(str(wp.get("tz")))
    except Exception:   # noqa: BLE001 - any unknown zone is the same mistake
        _bad("tz", "an IANA time zone name", wp.get("tz"))
    if not isinstance(wp.get("device_prefix"), str):
        _bad("device_prefix", "a str", wp.get("device_prefix"))
    return wp


def _merge(base: dict, overrides: Mapping) -> dict:
    for key, value in overrides.items():
        if key not in base:
            _bad(str(key), f"one of the declared keys {sorted(base)}", key)
        if isinstance(value, Mapping) and isinstance(base[key], dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def wearable_params(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The checked ``wearables`` section of ``params.yaml``, with ``overrides`` (nested, same keys) applied.

    Examples
    --------
    >>> wearable_params({"wear": {"p_day_off": 0.0}})["wear"]["p_day_off"]
    0.0
    """
    wp = copy.deepcopy(load()["wearables"])
    if overrides:
        _merge(wp, overrides)
    return check_params(wp)


# --- inputs ----------------------------------------------------------------------------------

def _people(residents: pd.DataFrame, first_day: np.datetime64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resident ids, ages at ``first_day`` and female (1), male (0) or unknown (0.5)."""
    problems = []
    if "resident_id" not in residents.columns:
        problems.append((None, "resident_id", None, "the residents need a resident_id column"))
    if "age" not in residents.columns and "birth_date" not in residents.columns:
        problems.append((None, "age", None, "the residents need an age or a birth_date column"))
    if problems:
        raise RowProblemsError(problems, table="residents", context="device_streams")
    ids = residents["resident_id"]
    for row, value in ids[ids.isna() | (ids.astype(str).str.strip() == "")].items():
        problems.append((row, "resident_id", value, "must not be blank"))
    for row, value in ids[ids.duplicated(keep="first") & ids.notna()].items():
        problems.append((row, "resident_id", value, "must be unique"))
    if "age" in residents.columns:
        age = pd.to_numeric(residents["age"], errors="coerce").to_numpy(dtype=float)
        column = "age"
    else:
        born = pd.to_datetime(residents["birth_date"], errors="coerce")
        age = ((pd.Timestamp(first_day) - born).dt.days / 365.25).to_numpy(dtype=float)
        column = "birth_date"
    for row, a, value in zip(residents.index, age, residents[column]):
        if not (np.isfinite(a) and 0 <= a <= 120):
            problems.append((row, column, value, "must give an age from 0 to 120 years (blank is not allowed)"))
    female = np.full(len(residents), 0.5)
    if "sex" in residents.columns:
        sex = residents["sex"].astype("string").str.strip().str.lower()
        female = np.where(sex == "female", 1.0, np.where(sex == "male", 0.0, 0.5))
        for row, value in sex[sex.notna() & ~sex.isin(["female", "male"])].items():
            problems.append((row, "sex", value, "must be female, male or blank"))
    if problems:
        raise RowProblemsError(problems, table="residents", context="device_streams")
    return ids.astype(str).to_numpy(dtype=object), age, female


def _severity(episodes: pd.DataFrame | None, name: str, index: dict, first_day: np.datetime64,
              n_grid_days: int, n: int) -> np.ndarray:
    """(residents, grid days) severity of the episodes in force each day (the largest if several)."""
    out = np.zeros((n, n_grid_days))
    if episodes is None or len(episodes) == 0:
        return out
    missing = [c for c in EPISODE_COLUMNS if c not in episodes.columns]
    if missing:
        raise RowProblemsError([(None, c, None, f"{name} needs the columns {list(EPISODE_COLUMNS)}") for c in missing],
                               table=name, context="device_streams")
    problems = []
    starts = pd.to_datetime(episodes["start"], errors="coerce")
    ends = pd.to_datetime(episodes["end"], errors="coerce")
    severity = pd.to_numeric(episodes["severity"], errors="coerce")
    rows = []
    for row, rid, s, e, v in zip(episodes.index, episodes["resident_id"], starts, ends, severity):
        bad = False
        if rid not in index:
            problems.append((row, "resident_id", rid, "must be one of the residents"))
            bad = True
        if pd.isna(s):
            problems.append((row, "start", episodes.at[row, "start"], "must be a date"))
            bad = True
        if pd.isna(e):
            problems.append((row, "end", episodes.at[row, "end"], "must be a date"))
            bad = True
        elif not pd.isna(s) and e < s:
            problems.append((row, "end", episodes.at[row, "end"], "must not be before start"))
            bad = True
        if pd.isna(v) or not 0 <= v <= 1:
            problems.append((row, "severity", episodes.at[row, "severity"], "must be a number from 0 to 1"))
            bad = True
        if not bad:
            rows.append((index[rid], s, e, float(v)))
    if problems:
        raise RowProblemsError(problems, table=name, context="device_streams")
    grid0 = first_day - np.timedelta64(1, "D")            # grid day 0 = the day before start
    for i, s, e, v in rows:
        a = int((np.datetime64(s.date(), "D") - grid0).astype(int))
        b = int((np.datetime64(e.date(), "D") - grid0).astype(int))
        a, b = max(a, 0), min(b, n_grid_days - 1)
        if a <= b:
            out[i, a:b + 1] = np.maximum(out[i, a:b + 1], v)
    return out


def _utc_offset(tz: str, first: np.datetime64, last: np.datetime64) -> int:
    """The zone's UTC offset in minutes, the same over the range (fixed-offset zones only)."""
    zone = ZoneInfo(tz)
    offsets = {int(dt.datetime.combine(pd.Timestamp(d).date(), dt.time(12), zone).utcoffset().total_seconds() // 60)
               for d in pd.date_range(pd.Timestamp(first), pd.Timestamp(last), freq="7D").append(
                   pd.DatetimeIndex([pd.Timestamp(last)]))}
    if len(offsets) != 1:
        raise ValueError(f"params.yaml: 'wearables.tz' must be a zone with one UTC offset over the dates "
                         f"(no daylight saving change). Got {tz!r}, offsets {sorted(offsets)} minutes.")
    return offsets.pop()


# --- the arrays ------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeviceArrays:
    """Synthetic device data as minute matrices (one row per resident).

    The minute grid starts at local midnight of the day before ``start`` (``grid_start_local``);
    minute ``g`` is local time ``grid_start_local + g`` minutes. Readings exist for the minutes
    ``EMIT_FROM <= g < emit_to`` (local noon of the day before ``start`` to local midnight at the
    end of ``end``). Night ``k`` (``0 <= k < n_days``) is the sleep ending on the morning of day
    ``start + k``; its noon-to-noon block is minutes ``720 + 1440 k`` to ``720 + 1440 (k + 1)``.

    Attributes
    ----------
    resident_id, device_id : ndarray of str, shape (n,)
    start : numpy.datetime64[D]
        The first local day with features; ``n_days`` days to ``end`` inclusive.
    tz : str
        IANA zone; ``utc_offset_minutes`` its (fixed) offset.
    heart_rate : ndarray float32, shape (n, minutes)
        bpm each worn minute, NaN when the band was not worn.
    steps : ndarray float32, shape (n, minutes)
        Steps in each worn minute (mostly 0 asleep), NaN when not worn.
    rmssd : ndarray float32, shape (n, n_days, 288)
        ms over the 5-minute windows of each night's noon-to-noon block, NaN unless asleep and worn throughout.
    sleep_onset, sleep_wake : ndarray float64, shape (n, n_days)
        Grid minutes of falling asleep and waking each night, NaN when no episode was recorded.
    truth : dict of ndarray
        The generator's own day-level values (not readings): ``mood``, ``illness`` severities and
        ``worn_day`` for each day ``start + j`` (n, n_days), for tests.
    """

    EMIT_FROM = NOON
    resident_id: np.ndarray
    device_id: np.ndarray
    start: np.datetime64
    n_days: int
    tz: str
    utc_offset_minutes: int
    heart_rate: np.ndarray
    steps: np.ndarray
    rmssd: np.ndarray
    sleep_onset: np.ndarray
    sleep_wake: np.ndarray
    truth: dict

    @property
    def emit_to(self) -> int:
        """The grid minute after the last emitted one (local midnight at the end of ``end``)."""
        return (self.n_days + 1) * DAY

    @property
    def grid_start_local(self) -> pd.Timestamp:
        """Local (naive) time of grid minute 0."""
        return pd.Timestamp(self.start - np.timedelta64(1, "D"))

    @property
    def grid_start_utc_ns(self) -> int:
        """Grid minute 0 in UTC, nanoseconds since the epoch."""
        return int((self.grid_start_local - pd.Timedelta(minutes=self.utc_offset_minutes)).value)

    def to_epochs(self):
        """The minute epochs of the same data (:func:`workbench.wearables._synth_epochs.device_epochs`)."""
        from workbench.wearables._synth_epochs import device_epochs

        return device_epochs(self)

    def to_readings(self, *, strings: bool = True) -> pd.DataFrame:
        """The canonical readings frame (:data:`READING_COLUMNS`), rows by resident, kind and start.

        With ``strings=False`` the ``resident_id``, ``device_id`` and ``tz`` columns are pandas
        Categoricals of the same values (the form the benchmark gives the features, which read
        categoricals fastest); otherwise ``string`` as the contract says.

        Examples
        --------
        >>> arrays = device_arrays(pd.DataFrame({"resident_id": ["R1"], "age": [70]}),
        ...                        start="2025-03-01", end="2025-03-01", seed=1)
        >>> arrays.to_readings().groupby("kind", observed=True).size().index.tolist()
        ['heart_rate', 'hrv_rmssd', 'step_count', 'sleep_episode']
        """
        n = len(self.resident_id)
        minute_ns = np.int64(60_000_000_000)
        base = np.int64(self.grid_start_utc_ns)
        lo, hi = self.EMIT_FROM, self.emit_to
        parts = []   # (resident index, kind code, start ns, end ns, value)
        worn = ~np.isnan(self.heart_rate[:, lo:hi])
        i, g = np.nonzero(worn)
        g = g.astype(np.int64) + lo
        t = base + g * minute_ns
        parts.append((i, 0, t, t, self.heart_rate[i, g]))
        parts.append((i, 3, t, t + minute_ns, self.steps[i, g]))
        i, k, w = np.nonzero(~np.isnan(self.rmssd))
        t = base + (NOON + k.astype(np.int64) * DAY + w.astype(np.int64) * WINDOW) * minute_ns
        parts.append((i, 2, t, t + WINDOW * minute_ns, self.rmssd[i, k, w]))
        i, k = np.nonzero(~np.isnan(self.sleep_onset))
        t0 = base + self.sleep_onset[i, k].astype(np.int64) * minute_ns
        t1 = base + self.sleep_wake[i, k].astype(np.int64) * minute_ns
        parts.append((i, 4, t0, t1, np.full(len(i), np.nan)))
        who = np.concatenate([p[0] for p in parts]).astype(np.int32)
        order = np.argsort(who, kind="stable")       # by resident; within, kinds in order, each by time
        who = who[order]
        kind = np.concatenate([np.full(len(p[0]), p[1], np.int8) for p in parts])[order]
        start = np.concatenate([p[2] for p in parts])[order]
        end = np.concatenate([p[3] for p in parts])[order]
        value = np.concatenate([np.asarray(p[4], dtype=np.float64) for p in parts])[order]
        ids = pd.Categorical.from_codes(who, categories=pd.Index(self.resident_id, dtype=object)) if n else \
            pd.Categorical([], categories=pd.Index([], dtype=object))
        devices = pd.Categorical.from_codes(who, categories=pd.Index(self.device_id, dtype=object)) if n else \
            pd.Categorical([], categories=pd.Index([], dtype=object))
        tz = pd.Categorical.from_codes(np.zeros(len(who), np.int8), categories=[self.tz])

        def text(values: pd.Categorical):
            return pd.Series(values).astype("string") if strings else values

        return pd.DataFrame({
            "resident_id": text(ids), "device_id": text(devices),
            "kind": pd.Categorical.from_codes(kind, categories=list(KINDS)),
            "start": pd.DatetimeIndex(start.view("M8[ns]")).tz_localize("UTC"),
            "end": pd.DatetimeIndex(end.view("M8[ns]")).tz_localize("UTC"),
            "value": value, "tz": text(tz),
        }, columns=READING_COLUMNS, copy=False)


def _ar1(rng: np.random.Generator, shape: tuple[int, int], phi: float) -> np.ndarray:
    """Stationary AR(1) noise with unit variance along axis 1 (float32)."""
    e = rng.standard_normal(shape, dtype=np.float32)
    e[:, 0] /= np.sqrt(1 - phi ** 2)       # start in the stationary distribution
    return lfilter([np.sqrt(1 - phi ** 2)], [1.0, -phi], e, axis=1).astype(np.float32, copy=False)


def _day_off_runs(rng: np.random.Generator, p: np.ndarray, run: float, days: int) -> np.ndarray:
    """(n, days) whole days without the band: a two-state Markov chain per person with long-run
    share ``p`` (per person) and mean run length ``run`` days."""
    n = len(p)
    back = 1.0 / run                                       # off -> on
    away = np.clip(p / np.maximum(1 - p, 1e-9) * back, 0, 1)    # on -> off, keeps the share at p
    u = rng.random((n, days))
    off = np.empty((n, days), bool)
    off[:, 0] = u[:, 0] < p
    for j in range(1, days):
        off[:, j] = np.where(off[:, j - 1], u[:, j] >= back, u[:, j] < away)
    return off


def _generate(ids: np.ndarray, age: np.ndarray, female: np.ndarray, first: np.datetime64, n_days: int, seed: int,
              mood: np.ndarray, illness: np.ndarray, wp: Mapping[str, Any], offset: int) -> DeviceArrays:
    rng = np.random.default_rng(seed)
    n = len(ids)
    n_grid = n_days + 2                  # grid days: start - 1, start .. end, end + 1 (its morning)
    K = n_days + 1                       # noon-to-noon blocks; block k's night ends on grid day k + 1
    G = n_grid * DAY
    hr_p, rm_p, st_p, sl_p, we_p = (wp[k] for k in ("heart_rate", "rmssd", "steps", "sleep", "wear"))
    mo_p, il_p = wp["mood"], wp["illness"]
    dec = (age - wp["age_reference"]) / 10.0

    def effect(name: str) -> np.ndarray:
        return mood * mo_p[name] + illness * il_p[name]

    # lasting per-person levels
    z = rng.standard_normal((n, 6))
    rhr_person = (hr_p["sleep_mean"] + hr_p["female"] * female + hr_p["age_per_decade"] * dec
                  + hr_p["person_sd"] * z[:, 0])
    log_rmssd_person = np.log(rm_p["at_reference_age"]) + rm_p["log_per_decade"] * dec + rm_p["person_log_sd"] * z[:, 1]
    log_steps_person = (np.log(st_p["per_day_at_reference_age"]) + st_p["log_per_decade"] * dec
                        + st_p["person_log_sd"] * z[:, 2])
    cadence = np.clip(st_p["cadence"] + st_p["cadence_sd"] * z[:, 3], 40, 150)
    onset_person = sl_p["onset_hour"] + sl_p["onset_person_sd"] * z[:, 4]
    duration_person = (sl_p["duration_hours"] + sl_p["duration_per_decade"] * dec
                       + sl_p["duration_person_sd"] * z[:, 5])
    conc = we_p["person_concentration"]
    p_off = we_p["p_day_off"]
    p_off_person = rng.beta(p_off * conc, (1 - p_off) * conc, n) if 0 < p_off else np.zeros(n)

    # day-level values (n, grid days), with the episodes' effects
    zd = rng.standard_normal((n, n_grid, 5))
    rhr_day = rhr_person[:, None] + hr_p["night_sd"] * zd[..., 0] + effect("resting_hr")
    rmssd_day = np.exp(log_rmssd_person[:, None] + rm_p["night_log_sd"] * zd[..., 1] + effect("rmssd_log"))
    steps_day = np.exp(log_steps_person[:, None] + st_p["day_log_sd"] * zd[..., 2] + effect("steps_log"))
    sd_factor = 1 + mood * (mo_p["onset_sd_factor"] - 1) + illness * (il_p["onset_sd_factor"] - 1)
    onset_h = onset_person[:, None] + effect("onset_shift_hours") + sl_p["onset_night_sd"] * sd_factor * zd[..., 3]
    dur_h = duration_person[:, None] + effect("duration_hours") + sl_p["duration_night_sd"] * zd[..., 4]
    # the night of block k takes the values of its morning, grid day k + 1
    onset = np.rint(NOON + 60 * np.clip(onset_h[:, 1:], -5, 4)).astype(np.int64)           # minutes into the block
    wake = np.minimum(onset + np.rint(60 * np.clip(dur_h[:, 1:], sl_p["min_duration_hours"], 14)).astype(np.int64),
                      DAY - 1)

    minute = np.arange(DAY)
    asleep = np.zeros((n, G), bool)
    blocks = asleep[:, NOON:NOON + K * DAY].reshape(n, K, DAY)
    blocks[:] = (minute >= onset[..., None]) & (minute < wake[..., None])

    # wear
    worn = ~np.repeat(_day_off_runs(rng, p_off_person, we_p["day_off_run_days"], n_grid), DAY, axis=1)
    night_off = rng.random((n, K)) < we_p["p_night_off"]
    margin = we_p["night_off_margin_minutes"]
    off_from = onset - np.rint(margin * rng.random((n, K))).astype(np.int64)
    off_to = wake + np.rint(margin * rng.random((n, K))).astype(np.int64)
    wblocks = worn[:, NOON:NOON + K * DAY].reshape(n, K, DAY)
    wblocks &= ~(night_off[..., None] & (minute >= off_from[..., None]) & (minute < off_to[..., None]))
    charge = rng.random((n, n_grid)) < 1.0 / we_p["charge_every_days"]
    lo, hi = we_p["charge_minutes"]
    charge_len = rng.integers(lo, hi + 1, (n, n_grid))
    charge_at = 480 + np.floor(rng.random((n, n_grid)) * (1200 - 480 - charge_len)).astype(np.int64)
    days = worn.reshape(n, n_grid, DAY)
    days &= ~(charge[..., None] & (minute >= charge_at[..., None]) & (minute < (charge_at + charge_len)[..., None]))

    # steps: walking minutes in bouts, the day's expected total = steps_day
    hour = minute / 60.0
    width = st_p["peak_width_hours"]
    shape = (1 + st_p["morning_peak"] * np.exp(-0.5 * ((hour - st_p["morning_peak_hour"]) / width) ** 2)
             + st_p["afternoon_peak"] * np.exp(-0.5 * ((hour - st_p["afternoon_peak_hour"]) / width) ** 2))
    awake_weight = (~asleep).reshape(n, n_grid, DAY) * shape                   # (n, days, 1440)
    per_day = awake_weight.sum(axis=2)
    rate = steps_day / (cadence[:, None] * np.maximum(per_day, 1.0))           # walking chance per weighted minute
    p_walk = np.minimum(awake_weight * rate[..., None], 0.9).reshape(n, G).astype(np.float32)
    u = ndtr(_ar1(rng, (n, G), st_p["bout_ar"]))
    walking = u < p_walk
    night_walk = asleep & (rng.random((n, G), dtype=np.float32) < st_p["night_walk_p"])
    pace = (0.75 + 0.5 * rng.random((n, G), dtype=np.float32)) * cadence[:, None].astype(np.float32)
    steps = np.where(walking, np.rint(pace), 0).astype(np.float32)
    steps = np.where(night_walk, np.rint(pace * 0.3), steps)

    # heart rate
    level = np.repeat(rhr_day.astype(np.float32), DAY, axis=1)
    circadian = hr_p["circadian_amplitude"] * np.cos(2 * np.pi * (hour - hr_p["circadian_peak_hour"]) / 24)
    awake_part = (hr_p["awake_offset"] + np.tile(circadian.astype(np.float32), n_grid)[None, :]
                  + hr_p["per_step"] * steps)
    hr = level + np.where(asleep, np.float32(0), awake_part) + hr_p["minute_sd"] * _ar1(rng, (n, G), hr_p["minute_ar"])
    hr = np.rint(np.clip(hr, 35, 200)).astype(np.float32)
    hr[~worn] = np.nan
    steps[~worn] = np.nan

    # RMSSD windows asleep and worn throughout; sleep episodes worn the whole night
    sl_worn = (asleep & worn)[:, NOON:NOON + K * DAY].reshape(n, K, DAY // WINDOW, WINDOW).all(axis=3)
    missed = (blocks & ~wblocks).any(axis=2)
    recorded = ~missed & (wake > onset)
    noise = np.exp(rm_p["window_log_sd"] * rng.standard_normal((n, K, DAY // WINDOW), dtype=np.float32))
    rmssd = np.where(sl_worn & recorded[..., None], rmssd_day[:, 1:, None].astype(np.float32) * noise,
                     np.nan).astype(np.float32)
    rmssd = np.round(rmssd, 1)
    block0 = NOON + np.arange(K) * DAY
    sleep_onset = np.where(recorded, block0 + onset, np.nan)[:, :n_days]
    sleep_wake = np.where(recorded, block0 + wake, np.nan)[:, :n_days]
    prefix = wp["device_prefix"]
    device_ids = np.array([f"{prefix}{seed % 100000:05d}{i:06d}" for i in range(n)], dtype=object)
    truth = {"mood": mood[:, 1:n_days + 1], "illness": illness[:, 1:n_days + 1],
             "worn_day": days.any(axis=2)[:, 1:n_days + 1], "rmssd_night": rmssd_day[:, 1:n_days + 1],
             "resting_hr": rhr_day[:, 1:n_days + 1], "steps_day": steps_day[:, 1:n_days + 1]}
    return DeviceArrays(resident_id=ids, device_id=device_ids, start=first, n_days=n_days, tz=wp["tz"],
                        utc_offset_minutes=offset, heart_rate=hr, steps=steps, rmssd=rmssd[:, :n_days],
                        sleep_onset=sleep_onset, sleep_wake=sleep_wake, truth=truth)


_RULES = {"residents": FRAME, "start": DATE, "end": DATE, "seed": Interval(int, 0, None),
          "mood": Optional(FRAME), "illness": Optional(FRAME),
          "params": Optional(Instance(Mapping, name="a mapping of wearables parameters"))}


@validate_params(_RULES)
def device_arrays(residents: pd.DataFrame, *, start: Any, end: Any, seed: int, mood: pd.DataFrame | None = None,
                  illness: pd.DataFrame | None = None, params: Mapping[str, Any] | None = None) -> DeviceArrays:
    """Synthetic wristband data of ``residents`` for the local days ``start`` to ``end`` as minute matrices.

    Same arguments as :func:`device_streams`; :meth:`DeviceArrays.to_readings` gives its frame.

    Examples
    --------
    >>> people = pd.DataFrame({"resident_id": ["R1", "R2"], "age": [66, 81]})
    >>> arrays = device_arrays(people, start="2025-03-01", end="2025-03-02", seed=7)
    >>> arrays.heart_rate.shape, arrays.rmssd.shape, arrays.sleep_onset.shape
    ((2, 5760), (2, 2, 288), (2, 2))
    """
    first, last = check_date(start, "start", "device_arrays"), check_date(end, "end", "device_arrays")
    n_days = int((last - first).astype(int)) + 1
    if not 1 <= n_days <= MAX_DAYS:
        fail("end", "device_arrays", f"a day from start to {MAX_DAYS} days after it", end)
    wp = wearable_params(params)
    offset = _utc_offset(wp["tz"], first - np.timedelta64(1, "D"), last)
    ids, age, female = _people(residents, first)
    index = {rid: i for i, rid in enumerate(ids)}
    n_grid = n_days + 2
    mood_sev = _severity(mood, "mood", index, first, n_grid, len(ids))
    ill_sev = _severity(illness, "illness", index, first, n_grid, len(ids))
    return _generate(ids, age, female, first, n_days, seed, mood_sev, ill_sev, wp, offset)


@validate_params(_RULES)
def device_streams(residents: pd.DataFrame, *, start: Any, end: Any, seed: int, mood: pd.DataFrame | None = None,
                   illness: pd.DataFrame | None = None, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Synthetic wristband readings of ``residents`` in the canonical readings shape.

    Parameters
    ----------
    residents : DataFrame
        ``resident_id`` (unique, not blank) and ``age`` (years) or ``birth_date`` (age at ``start``);
        ``sex`` (female/male/blank) if present. Other columns are ignored.
    start, end : date
        The first and last local day whose features the readings should give (each with its night).
    seed : int
        Seed of the one random generator.
    mood, illness : DataFrame, optional
        Episodes: ``resident_id, start, end, severity`` (dates inclusive; severity 0-1 scales the
        declared effects). Overlapping episodes of a kind take the larger severity.
    params : mapping, optional
        Overrides of the ``wearables`` section of ``params.yaml`` (nested, same keys).

    Returns
    -------
    DataFrame
        :data:`READING_COLUMNS`: ``resident_id``, ``device_id`` (string), ``kind`` (Categorical of
        :data:`KINDS`), ``start``, ``end`` (datetime64[ns, UTC]), ``value`` (float64; NaN only for
        ``sleep_episode``), ``tz`` (string). Heart rate (bpm, point) and step_count (steps in the
        minute) every worn minute, hrv_rmssd (ms, 5-minute windows asleep), one sleep_episode a worn night.

    Notes
    -----
    The model and its parameters are described in the module docstring and ``params.yaml``
    (``wearables``). Readings run from local noon of the day before ``start`` to the end of ``end``.
    Errors name the table, row, column, value and rule (:class:`workbench._errors.RowProblemsError`).

    Examples
    --------
    >>> people = pd.DataFrame({"resident_id": ["R1"], "age": [72], "sex": ["female"]})
    >>> readings = device_streams(people, start="2025-03-01", end="2025-03-01", seed=3)
    >>> readings.columns.tolist()
    ['resident_id', 'device_id', 'kind', 'start', 'end', 'value', 'tz']
    >>> str(readings["start"].dtype), readings["tz"].iloc[0]
    ('datetime64[ns, UTC]', 'Asia/Shanghai')
    >>> int((readings["kind"] == "sleep_episode").sum()) <= 1
    True
    """
    return device_arrays(residents, start=start, end=end, seed=seed, mood=mood, illness=illness,
                         params=params).to_readings()

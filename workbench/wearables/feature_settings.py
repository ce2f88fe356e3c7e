"""The settings of the daily wearable features: the night window, the wear each feature needs.

They are data: the ``features:`` key of ``workbench/data/wearables.yaml`` when it has one, else
``workbench/data/wearable_features.yaml``; the plausible RR range is ``kinds.rr_interval.range``
of ``wearables.yaml``. :func:`load_feature_settings` checks every key and names what is wrong.
Use it through :mod:`workbench.wearables.features`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from workbench._declarations import read_yaml, refuse, unknown_keys, whole

__all__ = ["FeatureSettings", "FeatureSettingsError", "Z_COLUMNS", "load_feature_settings"]

_DATA = Path(__file__).resolve().parents[1] / "data"

# --- settings ------------------------------------------------------------------------------------

#: Feature -> its z column (:func:`workbench.wearables.features.personal_baseline`; the alert
#: rules name these columns).
Z_COLUMNS = {"rmssd": "rmssd_z", "resting_hr": "resting_hr_z", "steps": "steps_z", "sleep_minutes": "sleep_z"}


class FeatureSettingsError(ValueError):
    """The ``features:`` settings break a rule; the message names every key that is wrong."""


@dataclass(frozen=True)
class FeatureSettings:
    """The validated ``features:`` settings (build them with :func:`load_feature_settings`)."""

    version: str
    night_start: int
    night_end: int
    night_min_wear: int
    day_start: int
    day_min_wear: int
    hr_window: int
    hr_min_readings: int
    hr_lowest: int
    rmssd_min_windows: int
    rr_window: int
    rr_min_beats: int
    rr_range: tuple[float, float]
    regularity_nights: int
    regularity_within: int


_SPEC = {  # section: {key: (attribute, low, high)}
    "night": {"start_minute": ("night_start", -720, 720), "end_minute": ("night_end", -720, 1440),
              "min_wear_minutes": ("night_min_wear", 0, 1440)},
    "day": {"start_minute": ("day_start", 0, 1439), "min_wear_minutes": ("day_min_wear", 0, 1440)},
    "resting_hr": {"window_minutes": ("hr_window", 1, 60), "min_readings": ("hr_min_readings", 1, 3600),
                   "lowest_windows": ("hr_lowest", 1, 288)},
    "rmssd": {"min_windows": ("rmssd_min_windows", 1, 288), "rr_window_minutes": ("rr_window", 1, 60),
              "rr_min_beats": ("rr_min_beats", 2, 100_000)},
    "sleep": {"regularity_nights": ("regularity_nights", 2, 60), "regularity_within_days": ("regularity_within", 2, 366)},
}


def _rr_range() -> tuple[float, float]:
    path = _DATA / "wearables.yaml"
    if path.is_file():
        raw = read_yaml(path, FeatureSettingsError)
        try:
            low, high = raw["kinds"]["rr_interval"]["range"]
            return float(low), float(high)
        except (KeyError, TypeError, ValueError):
            pass
    raise FeatureSettingsError("wearables.yaml: kinds.rr_interval.range (the plausible RR range, ms) is not declared")


def load_feature_settings(settings: "str | Path | Mapping | FeatureSettings | None" = None) -> FeatureSettings:
    """The feature settings: the shipped ones (``None``), a YAML file with a ``features:`` key, a
    mapping with that key's content, or ``settings`` itself if already loaded.

    Raises
    ------
    FeatureSettingsError
        Naming every key that is wrong.

    Examples
    --------
    >>> s = load_feature_settings()
    >>> s.night_start, s.night_end, s.night_min_wear, s.day_min_wear, s.rr_range
    (0, 360, 240, 600, (240.0, 3000.0))
    >>> load_feature_settings({"night": {"start_minute": 0}})
    Traceback (most recent call last):
    ...
    workbench.wearables.feature_settings.FeatureSettingsError: feature settings: ...
    """
    if isinstance(settings, FeatureSettings):
        return settings
    if settings is None:
        shared = _DATA / "wearables.yaml"
        raw = read_yaml(shared, FeatureSettingsError) if shared.is_file() else None
        path = shared if isinstance(raw, Mapping) and "features" in raw else _DATA / "wearable_features.yaml"
        raw = read_yaml(path, FeatureSettingsError)["features"]
    elif isinstance(settings, Mapping):
        path, raw = Path("feature settings"), settings
    else:
        path = Path(settings)
        whole_file = read_yaml(path, FeatureSettingsError)
        raw = whole_file.get("features") if isinstance(whole_file, Mapping) else None
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        refuse(path, "feature settings", ["features: must be a mapping of the sections " + str(sorted(_SPEC))],
               FeatureSettingsError)
    unknown_keys(raw, {"version", "sources", *_SPEC}, "features", problems)
    sources = raw.get("sources") if isinstance(raw.get("sources"), Mapping) else {}
    values: dict[str, Any] = {"version": str(raw.get("version", ""))}
    if not values["version"]:
        problems.append("features.version: missing")
    for section, keys in _SPEC.items():
        entry = raw.get(section)
        if not isinstance(entry, Mapping):
            problems.append(f"features.{section}: missing (keys {sorted(keys)}, source)")
            continue
        unknown_keys(entry, {*keys, "source", "settings_source"}, f"features.{section}", problems)
        for key in ("source", "settings_source"):
            if key in entry and entry[key] not in sources:
                problems.append(f"features.{section}.{key}: {entry[key]!r} is not a key of sources ({sorted(sources)})")
        if "source" not in entry:
            problems.append(f"features.{section}.source: missing")
        for key, (attribute, low, high) in keys.items():
            v = entry.get(key)
            if not whole(v, low) or v > high:
                problems.append(f"features.{section}.{key}: must be a whole number in [{low}, {high}]; got {v!r}")
                v = low
            values[attribute] = v
    if not problems:
        night = values["night_end"] - values["night_start"]
        if not 0 < night <= 1440:
            problems.append("features.night: end_minute must be after start_minute, at most 24 hours later")
        elif values["night_min_wear"] > night:
            problems.append(f"features.night.min_wear_minutes: more than the night's {night} minutes")
        if values["day_min_wear"] > 1440 - values["day_start"]:
            problems.append("features.day.min_wear_minutes: more than the daytime minutes")
        for section, key, attribute in (("resting_hr", "window_minutes", "hr_window"),
                                        ("rmssd", "rr_window_minutes", "rr_window")):
            w = values[attribute]
            if 1440 % w or values["night_start"] % w or night % w:
                problems.append(f"features.{section}.{key}: {w} must divide 1440, the night's start minute and its "
                                "length (windows never straddle the night's edges)")
    refuse(path, "feature settings", problems, FeatureSettingsError)
    return FeatureSettings(rr_range=_rr_range(), **values)

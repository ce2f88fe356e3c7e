"""Where the embedded sample community lives, and reading it back with its types."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

__all__ = ["SAMPLE_DIR", "SAMPLE_FILES", "SAMPLE_N", "SAMPLE_SEED", "Sample", "load_sample", "prepare_sample"]

#: The sample shipped with the repository (see data_samples/CATALOGUE.md).
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data_samples"
SAMPLE_FILES = ("residents.csv", "screenings.csv", "referrals.csv", "contacts.csv", "followups.csv")
#: The generator call that made the committed sample (CATALOGUE.md quotes the same command).
SAMPLE_N = 3000
SAMPLE_SEED = 20261126

_DATES = {"residents": ["birth_date"], "screenings": ["assessed_on"], "referrals": ["referred_on", "ended_on"],
          "contacts": ["contact_on"], "followups": ["assessed_on"]}


class Sample(NamedTuple):
    """The sample community's tables (see data_samples/CATALOGUE.md for every column)."""

    residents: pd.DataFrame
    screenings: pd.DataFrame
    referrals: pd.DataFrame
    contacts: pd.DataFrame
    followups: pd.DataFrame


def prepare_sample(folder: Path | None = None) -> Path:
    """Make sure the sample files exist in ``folder`` (regenerating them if not); return it."""
    folder = Path(folder or SAMPLE_DIR)
    if not all((folder / name).is_file() for name in SAMPLE_FILES):
        from workbench.synth import community

        print(f"Preparing the sample community in {folder} ...", flush=True)
        community(SAMPLE_N, seed=SAMPLE_SEED).write(folder)
    return folder


def load_sample(folder: Path | None = None) -> Sample:
    """The sample's tables as DataFrames: dates parsed, answers as nullable integers.

    Examples
    --------
    >>> sample = load_sample()
    >>> len(sample.residents) == len(sample.screenings) == SAMPLE_N
    True
    >>> sample.referrals["referral_id"].is_unique
    True
    """
    folder = prepare_sample(folder)
    tables = {}
    for name, dates in _DATES.items():
        frame = pd.read_csv(folder / f"{name}.csv", parse_dates=dates)
        items = [c for c in frame.columns if c.rsplit("_", 1)[-1].isdigit()]
        frame[items] = frame[items].astype("Int8")
        tables[name] = frame
    return Sample(**tables)

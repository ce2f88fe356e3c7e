"""Where the embedded sample community lives, and making sure it is there."""

from __future__ import annotations

from pathlib import Path

__all__ = ["SAMPLE_DIR", "SAMPLE_FILES", "SAMPLE_N", "SAMPLE_SEED", "load_sample", "prepare_sample"]

#: The sample shipped with the repository (see data_samples/CATALOGUE.md).
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data_samples"
SAMPLE_FILES = ("residents.csv", "screenings.csv")
#: The generator call that made the committed sample (CATALOGUE.md quotes the same command).
SAMPLE_N = 3000
SAMPLE_SEED = 20261126


def prepare_sample(folder: Path | None = None) -> Path:
    """Make sure the sample files exist in ``folder`` (regenerating them if not); return it."""
    folder = Path(folder or SAMPLE_DIR)
    if not all((folder / name).is_file() for name in SAMPLE_FILES):
        from workbench.synth import community

        print(f"Preparing the sample community in {folder} ...", flush=True)
        community(SAMPLE_N, seed=SAMPLE_SEED).write(folder)
    return folder


def load_sample(folder: Path | None = None):
    """The sample as ``(residents, screenings)`` DataFrames with their declared types.

    Examples
    --------
    >>> residents, screenings = load_sample()
    >>> len(residents) == len(screenings) == SAMPLE_N
    True
    """
    import pandas as pd

    folder = prepare_sample(folder)
    residents = pd.read_csv(folder / "residents.csv", parse_dates=["birth_date"])
    screenings = pd.read_csv(folder / "screenings.csv", parse_dates=["assessed_on"])
    items = [c for c in screenings.columns if c.rsplit("_", 1)[-1].isdigit()]
    screenings[items] = screenings[items].astype("Int8")
    return residents, screenings

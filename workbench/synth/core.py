"""The public entry point :func:`community` and the :class:`Community` it returns."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import answers as _answers  # noqa: F401  (registers steps)
from . import conditions as _conditions  # noqa: F401
from . import demography as _demography  # noqa: F401
from . import latent as _latent  # noqa: F401
from ._checks import check_choice, check_date, check_instruments, check_int, fail
from ._params import COMMUNITY_TYPES, available_instruments, load
from .conditions import CONDITIONS
from .engine import Draft, run

DEFAULT_INSTRUMENTS = ("phq9", "gad7", "who5", "ucla3", "k10", "phq15", "pss10")
N_MIN, N_MAX = 100, 1_000_000
FORMATS = ("csv", "parquet")

RESIDENT_COLUMNS = ("resident_id", "sex", "birth_date", "age", "community", "community_type",
                    "lives_alone", *CONDITIONS)
SCREENING_COLUMNS = ("resident_id", "assessed_on", "mode", "language")


class Community:
    """A generated community: residents, one baseline screening each, and latent traits.

    Built by :func:`community`; not meant to be constructed by hand.

    Attributes
    ----------
    residents : pandas.DataFrame
        One row per resident: ``resident_id, sex, birth_date, age, community,
        community_type, lives_alone, hypertension, diabetes, chd, stroke, copd, asthma``.
    screenings : pandas.DataFrame
        One row per baseline screening: ``resident_id, assessed_on, mode, language`` and the
        item columns ``{instrument}_{n}`` (pandas ``Int8``, blank = ``<NA>``).
    latent : pandas.DataFrame
        The latent traits (index ``resident_id``; one float column per trait), for later
        components (follow-up, events, trial arms) to evolve.
    seed, start, end, instruments
        The arguments the community was generated with.
    """

    def __init__(self, residents: pd.DataFrame, screenings: pd.DataFrame,
                 latent: pd.DataFrame, *, seed: int, start: np.datetime64,
                 end: np.datetime64, instruments: tuple[str, ...], params_version: str):
        self.residents = residents
        self.screenings = screenings
        self.latent = latent
        self.seed = seed
        self.start = start
        self.end = end
        self.instruments = instruments
        self.params_version = params_version

    def __repr__(self) -> str:
        return (f"Community(n={len(self.residents)}, seed={self.seed}, start={self.start}, "
                f"end={self.end}, instruments={self.instruments})")

    def write(self, folder: str | os.PathLike, *, format: str = "csv") -> dict[str, Path]:
        """Write ``residents`` and ``screenings`` to ``folder`` as CSV or Parquet.

        Parameters
        ----------
        folder : str or path
            Created if needed. Existing files of the same names are replaced.
        format : {"csv", "parquet"}
            CSV: UTF-8, ``\\n`` line ends, dates ISO ``YYYY-MM-DD``, blanks empty, booleans
            ``True``/``False``. Parquet keeps the dtypes (nullable ``Int8``, categories).

        Returns
        -------
        dict
            ``{"residents": path, "screenings": path}``.

        Notes
        -----
        Each file is first written under a temporary name and then moved into place, so a
        failure never leaves a half-written file. The latent traits are not written.

        Examples
        --------
        >>> import tempfile
        >>> c = community(200, seed=1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     paths = c.write(folder)
        ...     sorted(p.name for p in paths.values())
        ['residents.csv', 'screenings.csv']
        """
        format = check_choice(format, "format", "Community.write", FORMATS)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        tmp_paths = []
        try:
            for name in ("residents", "screenings"):
                frame: pd.DataFrame = getattr(self, name)
                path = folder / f"{name}.{format}"
                tmp = folder / f".{name}.{format}.tmp"
                tmp_paths.append(tmp)
                if format == "csv":
                    frame.to_csv(tmp, index=False, date_format="%Y-%m-%d", lineterminator="\n",
                                 encoding="utf-8")
                else:
                    frame.to_parquet(tmp, index=False)
                written[name] = path
            for name, path in written.items():
                os.replace(folder / f".{name}.{format}.tmp", path)
        finally:
            for tmp in tmp_paths:
                tmp.unlink(missing_ok=True)
        return written


def community(n: int, *, seed: int = 20261126, start: Any = "2025-01-01",
              end: Any = "2025-12-31",
              instruments: Iterable[str] = DEFAULT_INSTRUMENTS) -> Community:
    """Generate a synthetic community of adult residents with one baseline screening each.

    Residents get an age, sex, community, living situation and six chronic-condition flags;
    correlated latent traits (depression, anxiety, somatic symptoms, stress, wellbeing,
    distress, loneliness) drive item-level answers through a graded response model; a few
    answers are left blank. The figures the data are calibrated to are those of the service
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

    Returns
    -------
    Community
        With ``residents``, ``screenings`` and ``latent`` DataFrames and :meth:`Community.write`.

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
    ((500, 13), (500, 64))
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
    n = check_int(n, "n", caller, N_MIN, N_MAX)
    seed = check_int(seed, "seed", caller, 0, None)
    start_day = check_date(start, "start", caller)
    end_day = check_date(end, "end", caller)
    if end_day < start_day:
        fail("end", caller, f"a date on or after start ({start_day})", end)
    ids = check_instruments(instruments, "instruments", caller, available_instruments())
    return generate(n, seed=seed, start=start_day, end=end_day, instruments=ids, params=load())


def generate(n: int, *, seed: int, start: np.datetime64, end: np.datetime64,
             instruments: tuple[str, ...], params: dict[str, Any]) -> Community:
    """Run every registered step with checked arguments and ``params`` (see ``_params.check``).

    The unchecked back door used by :func:`community` and by the calibration script.
    """
    draft = run(Draft(n=n, seed=seed, start=start, end=end, instruments=instruments,
                      params=params))
    return _assemble(draft)


def _categorical(codes: np.ndarray, categories: Iterable[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(np.asarray(codes, dtype=np.int32), categories=list(categories))


def _resident_ids(n: int) -> np.ndarray:
    width = max(7, len(str(n)))
    digits = np.char.zfill(np.arange(1, n + 1).astype(str), width)
    return np.char.add("R", digits).astype(object)


def _assemble(draft: Draft) -> Community:
    r, s, w = draft.residents, draft.screenings, draft.work
    ids = _resident_ids(draft.n)
    residents = pd.DataFrame({
        "resident_id": ids,
        "sex": _categorical(~r["female"], ["female", "male"]),
        "birth_date": r["birth_date"].astype("datetime64[ns]"),
        "age": w["age_years"].astype(np.int64),
        "community": _categorical(w["community_code"], w["community_labels"]),
        "community_type": _categorical(w["community_type_code"], COMMUNITY_TYPES),
        "lives_alone": r["lives_alone"],
        **{c: r[c] for c in CONDITIONS},
    })
    columns: dict[str, Any] = {
        "resident_id": ids,
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
    latent = pd.DataFrame(draft.latent, index=pd.Index(ids, name="resident_id"))
    return Community(residents, screenings, latent, seed=draft.seed, start=draft.start,
                     end=draft.end, instruments=draft.instruments,
                     params_version=str(draft.params.get("version")))

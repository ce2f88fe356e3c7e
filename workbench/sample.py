"""Where the embedded sample community lives, and reading it back with its types."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import pandas as pd

__all__ = ["OPTIONAL_FILES", "REQUIRED_FILES", "SAMPLE_DIR", "SAMPLE_FILES", "SAMPLE_N", "SAMPLE_SEED", "Sample", "load_sample", "SAMPLE_STAFF", "add_sample_staff", "prepare_registry",
           "prepare_sample", "sample_registry_url"]

#: The sample shipped with the repository (see data_samples/CATALOGUE.md).
SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data_samples"
SAMPLE_FILES = ("residents.csv", "screenings.csv", "referrals.csv", "contacts.csv", "followups.csv", "events.csv",
                "waves.csv", "enrolments.csv", "trial_assessments.csv", "satisfaction.csv")
#: The generator call that made the committed sample (CATALOGUE.md quotes the same command).
SAMPLE_N = 3000
SAMPLE_SEED = 20261126

_DATES = {"residents": ["birth_date"], "screenings": ["assessed_on"], "referrals": ["referred_on", "ended_on"],
          "contacts": ["contact_on"], "followups": ["assessed_on"], "events": ["event_on"], "waves": ["assessed_on"],
          "enrolments": ["enrolled_on"], "trial_assessments": ["assessed_on"], "satisfaction": ["surveyed_on"]}
#: Nullable columns that are not questionnaire items (blank = no answer).
_NULLABLE = {"satisfaction": {"satisfied": "boolean", "rating": "Int8"}}


class Sample(NamedTuple):
    """The sample community's tables (see data_samples/CATALOGUE.md for every column)."""

    residents: pd.DataFrame
    screenings: pd.DataFrame
    referrals: pd.DataFrame
    contacts: pd.DataFrame
    followups: pd.DataFrame
    events: pd.DataFrame
    waves: pd.DataFrame
    enrolments: pd.DataFrame
    trial_assessments: pd.DataFrame
    satisfaction: pd.DataFrame


#: Tables a folder may lack (they are then empty): surveys not every programme runs.
OPTIONAL_FILES = ("satisfaction.csv",)
REQUIRED_FILES = tuple(f for f in SAMPLE_FILES if f not in OPTIONAL_FILES)


def prepare_sample(folder: Path | None = None) -> Path:
    """Make sure the sample's tables are in ``folder`` and return it.

    An empty or new folder gets a freshly generated sample. A folder that already holds some of
    the tables but lacks a required one is refused (FileNotFoundError): its files are never
    overwritten with synthetic data.
    """
    folder = Path(folder or SAMPLE_DIR)
    present = [name for name in SAMPLE_FILES if (folder / name).is_file()]
    if not present:
        from workbench.synth import community

        print(f"Preparing the sample community in {folder} ...", flush=True)
        community(SAMPLE_N, seed=SAMPLE_SEED).write(folder)
    elif missing := [name for name in REQUIRED_FILES if name not in present]:
        raise FileNotFoundError(f"{folder} lacks {missing}; its other files are left as they are "
                                "(nothing is regenerated over existing data)")
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
        path = folder / f"{name}.csv"
        if not path.is_file():  # an optional table this folder does not have
            tables[name] = pd.read_csv(SAMPLE_DIR / f"{name}.csv", nrows=0, parse_dates=dates)
            continue
        frame = pd.read_csv(path, parse_dates=dates)
        items = [c for c in frame.columns if c.rsplit("_", 1)[-1].isdigit()]
        frame[items] = frame[items].astype("Int8")
        frame = frame.astype(_NULLABLE.get(name, {}))
        tables[name] = frame
    return Sample(**tables)


def sample_registry_url() -> str:
    """Where ``make run`` keeps the registry filled with the sample community: a SQLite file
    under the user's data folder (or ``WORKBENCH_SAMPLE_DB``)."""
    import os

    from platformdirs import user_data_dir

    if os.environ.get("WORKBENCH_SAMPLE_DB"):
        return os.environ["WORKBENCH_SAMPLE_DB"]
    return f"sqlite:///{Path(user_data_dir('workbench', appauthor=False)) / 'sample-registry.sqlite'}"


def prepare_registry(url: str | None = None, *, folder: Path | None = None):
    """The registry at ``url`` (default :func:`sample_registry_url`), filled with the sample
    community on first use: residents, screenings and follow-up reviews (item-level answers),
    the suggested tiers confirmed, referrals and contacts. Returns the :class:`Registry`."""
    import workbench
    from workbench.registry.store import Registry

    registry = Registry(url or sample_registry_url())
    registry.init()
    if len(registry.residents(as_user="admin")):
        add_sample_staff(registry)
        return registry
    sample = load_sample(folder)
    print("Filling the sample registry (first run only) ...", flush=True)
    registry.import_residents(_as_text(sample.residents), by="admin", source="residents.csv")
    registry.import_assessments(_as_text(sample.screenings), by="admin", source="screenings.csv")
    reviews = sample.followups.drop(columns=["referral_id", "contact_id", "week"])
    registry.import_assessments(_as_text(reviews), by="admin", source="followups.csv")
    screened = workbench.screen(sample.screenings.merge(sample.residents, on="resident_id"))
    decisions = workbench.decide(screened, by="admin", at=pd.Timestamp("2025-01-01"))
    decisions = decisions.join(screened[["urgent", "needs_review", "service_cell", "next_contact_due"]])
    decisions["resident_id"] = sample.screenings["resident_id"].to_numpy()
    decisions["assessed_on"] = sample.screenings["assessed_on"].to_numpy()
    decisions["decided_at"] = sample.screenings["assessed_on"].to_numpy()
    registry.record_decisions(decisions, by="admin")
    registry.record("referrals", sample.referrals, by="admin")
    contacts = sample.contacts.assign(status=sample.contacts["attended"].map({True: "attended", False: "missed"}))
    registry.record("contacts", contacts[["contact_id", "resident_id", "referral_id", "contact_on", "kind", "status"]],
                    by="admin")
    add_sample_staff(registry)
    return registry


#: Staff of the sample registry, for workshops and the apps' tests: (name, role, display name,
#: communities whose referred residents are on their caseload).
SAMPLE_STAFF = (
    ("counsellor_li", "counsellor", "李咨询师 (Li, counsellor)", ("urban-01", "urban-02", "urban-03")),
    ("counsellor_chen", "counsellor", "陈咨询师 (Chen, counsellor)", ("rural-01", "rural-02", "ageing-01")),
    ("dr_wang", "doctor", "王医生 (Dr Wang, family doctor)", ()),
    ("sw_zhang", "social_worker", "张社工 (Zhang, social worker)", ()),
    ("analyst_zhou", "analyst", "周分析员 (Zhou, analyst)", ()),
)


def add_sample_staff(registry) -> None:
    """Add the :data:`SAMPLE_STAFF` users to a sample registry that lacks them, with the referred
    residents of their communities on the counsellors' caseloads and every tier-3 referral on
    the family doctor's. Does nothing to users already there."""
    present = set(registry.users()["name"])
    if all(name in present for name, *_ in SAMPLE_STAFF):
        return
    residents = registry.residents(as_user="admin").set_index("resident_id")
    data = registry.follow_up_data(as_user="admin")
    referred = data.referrals.assign(community=data.referrals["resident_id"].map(residents["community"]))
    for name, role, display, communities in SAMPLE_STAFF:
        if name in present:
            continue
        registry.add_user(name, role, by="admin", display_name=display)
        if communities:
            registry.assign_caseload(name, sorted(referred.loc[referred["community"].isin(communities), "resident_id"]),
                                     by="admin")
        elif role == "doctor":
            registry.assign_caseload(name, sorted(referred.loc[referred["tier"] == 3, "resident_id"]), by="admin")


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A table as an import file would give it: text cells, blanks missing."""
    out = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            out[column] = values.dt.strftime("%Y-%m-%d")
        else:
            out[column] = values.astype("string")
    return out.astype(object).where(out.notna(), None).reset_index(drop=True)

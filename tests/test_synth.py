"""Tests of the synthetic-community generator (workbench.synth).

Calibration targets and their sources:
- DESIGN.md, "Service model the project serves", figures to calibrate sample data:
  hypertension 27.5% and diabetes 11.9% of adults; anxiety or depression in 42% of chronic
  patients vs 18% of others; loneliness in 35% of over-60s and 58% of those living alone.
- REFERENCE.md, instruments table: answer ranges, PHQ-9 question 10 asked only when the total
  is > 0, PHQ-15 item 4 for women only, PSS-10 items 4, 5, 7, 8 reverse-keyed; screen-positive
  PHQ-9 >= 10 (Kroenke 2001) and GAD-7 >= 10 (Spitzer 2006); UCLA-3 >= 6 "lonely".
- Cronbach's alpha of PHQ-9 / GAD-7 in real data is about 0.85-0.90 (the brief's target; the
  generator's item parameters are synthetic, see workbench/synth/params.yaml).
Tolerances: +/- 3 percentage points for the service-model mental-health figures (each is
itself a rounded survey figure; the sampling SE at n = 50,000 is below 1 point), +/- 1.5
points for the condition prevalences (calibrated exactly, by expectation).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

import workbench
from workbench.instruments import get_instrument
from workbench.synth import Community, community
from workbench.synth import engine
from workbench.synth.__main__ import main
from workbench.synth._dates import whole_years

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples"
INSTRUMENTS = ("phq9", "gad7", "who5", "ucla3", "k10", "phq15", "pss10")
CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")
RESIDENT_COLUMNS = ["resident_id", "sex", "birth_date", "age", "community", "community_type",
                    "lives_alone", *CONDITIONS]


def item_columns(instrument: str) -> list[str]:
    inst = get_instrument(instrument)
    return inst.item_columns + inst.supplementary_columns


@pytest.fixture(scope="module")
def big() -> Community:
    return community(50_000, seed=20261126)


@pytest.fixture(scope="module")
def small() -> Community:
    return community(2_000, seed=11)


@pytest.fixture(scope="module")
def scores(big) -> dict[str, pd.DataFrame]:
    """The workbench's own scoring of the generated answers (sex joined for PHQ-15 item 4)."""
    data = big.screenings.merge(big.residents[["resident_id", "sex"]], on="resident_id")
    return {i: workbench.score(data, i) for i in ("phq9", "gad7", "ucla3")}


# ---------------------------------------------------------------- determinism and streams

def test_same_seed_gives_identical_data():
    a, b = community(1_000, seed=5), community(1_000, seed=5)
    pd.testing.assert_frame_equal(a.residents, b.residents)
    pd.testing.assert_frame_equal(a.screenings, b.screenings)
    pd.testing.assert_frame_equal(a.latent, b.latent)


def test_different_seeds_give_different_data():
    a, b = community(1_000, seed=5), community(1_000, seed=6)
    assert not a.residents.equals(b.residents)
    assert not a.screenings.equals(b.screenings)
    assert (a.residents["age"] != b.residents["age"]).mean() > 0.5


def test_step_streams_are_seed_sequence_spawns():
    draft = engine.Draft(n=1, seed=99, start=None, end=None, instruments=(), params={})
    spawned = np.random.SeedSequence(99).spawn(6)
    for key in range(6):
        assert np.array_equal(draft.seed_sequence(key).generate_state(4),
                              spawned[key].generate_state(4))


def test_answers_of_an_instrument_do_not_depend_on_the_others(small):
    alone = community(2_000, seed=11, instruments=("phq9",))
    reordered = community(2_000, seed=11, instruments=("gad7", "phq9"))
    cols = item_columns("phq9")
    pd.testing.assert_frame_equal(alone.screenings[cols], small.screenings[cols])
    pd.testing.assert_frame_equal(reordered.screenings[cols], small.screenings[cols])
    assert reordered.screenings.columns[4:11].tolist() == item_columns("gad7")


def test_a_new_step_does_not_change_existing_components(small, monkeypatch):
    def extra(draft, rng):          # a later component, e.g. follow-up waves
        draft.work["extra"] = rng.standard_normal(draft.n * 3)

    monkeypatch.setitem(engine.STEPS, "extra",
                        engine.Step(name="extra", key=99, func=extra, needs=("latent",)))
    again = community(2_000, seed=11)
    pd.testing.assert_frame_equal(again.residents, small.residents)
    pd.testing.assert_frame_equal(again.screenings, small.screenings)
    pd.testing.assert_frame_equal(again.latent, small.latent)


# ---------------------------------------------------------------- schema

def test_resident_schema(small):
    r = small.residents
    assert r.columns.tolist() == RESIDENT_COLUMNS
    assert r["resident_id"].is_unique and r["resident_id"].str.fullmatch(r"R\d{7}").all()
    assert r["sex"].cat.categories.tolist() == ["female", "male"]
    assert r["community_type"].cat.categories.tolist() == ["urban", "rural", "ageing"]
    assert str(r["birth_date"].dtype).startswith("datetime64") and str(r["age"].dtype) == "int64"
    for col in ["lives_alone", *CONDITIONS]:
        assert r[col].dtype == bool
    assert r.notna().all().all()
    assert r["age"].between(18, 99).all()
    prefix = r["community"].astype(str).str.extract(r"^(\w+)-\d{2,}$")[0]
    assert (prefix == r["community_type"].astype(str)).all()
    assert set(r["community_type"]) == {"urban", "rural", "ageing"}


def test_age_is_whole_years_at_the_screening_date(small):
    born = small.residents["birth_date"].to_numpy().astype("datetime64[D]")
    on = small.screenings["assessed_on"].to_numpy().astype("datetime64[D]")
    assert np.array_equal(whole_years(born, on), small.residents["age"].to_numpy())


def test_communities_grow_with_n(big):
    minimal = community(100, seed=1)
    assert set(minimal.residents["community_type"]) == {"urban", "rural", "ageing"}
    assert minimal.residents["community"].nunique() >= 3
    assert big.residents["community"].nunique() > 50


def test_screening_schema(small):
    s = small.screenings
    expected = ["resident_id", "assessed_on", "mode", "language"]
    expected += [c for i in INSTRUMENTS for c in item_columns(i)]
    assert s.columns.tolist() == expected
    assert s["resident_id"].equals(small.residents["resident_id"])
    assert s["assessed_on"].between("2025-01-01", "2025-12-31").all()
    assert set(s["mode"]) == {"self", "interviewer"} and set(s["language"]) == {"zh", "en"}
    assert (s["language"] == "zh").mean() > 0.9
    assert small.latent.index.equals(pd.Index(s["resident_id"], name="resident_id"))


@pytest.mark.parametrize("instrument", INSTRUMENTS)
def test_answers_are_whole_numbers_in_the_declared_range(small, instrument):
    inst = get_instrument(instrument)
    ranges = {c: (inst.response_min, inst.response_max) for c in inst.item_columns}
    ranges.update({f"{instrument}_{sup['n']}": (sup["min"], sup["max"])
                   for sup in inst.supplementary_items})
    for col, (lo, hi) in ranges.items():
        values = small.screenings[col]
        assert str(values.dtype) == "Int8", col
        observed = values.dropna()
        assert observed.between(lo, hi).all(), col
        assert observed.min() == lo and observed.max() == hi, col   # whole range used


def test_blanks_are_na_never_zero(small, tmp_path):
    s = small.screenings
    items = [c for i in INSTRUMENTS for c in get_instrument(i).item_columns if c != "phq15_4"]
    blank = s[items].isna()
    assert 0.005 < blank.to_numpy().mean() < 0.06
    assert s["phq9_9"].isna().any()
    paths = small.write(tmp_path)
    text = pd.read_csv(paths["screenings"], dtype=str, keep_default_na=False)[items].to_numpy()
    is_blank = blank.to_numpy()
    assert (text[is_blank] == "").all()          # written as empty fields, never as 0
    assert (text[~is_blank] != "").all()


def test_phq15_item4_blank_for_men(small):
    men = small.residents["sex"] == "male"
    assert small.screenings.loc[men, "phq15_4"].isna().all()
    assert small.screenings.loc[~men, "phq15_4"].notna().mean() > 0.9


def test_phq9_question10_only_when_total_above_zero(small):
    s = small.screenings
    total = s[get_instrument("phq9").item_columns].fillna(0).sum(axis=1)
    assert s.loc[total == 0, "phq9_10"].isna().all()
    assert (total == 0).sum() > 50
    assert s.loc[total > 0, "phq9_10"].notna().mean() > 0.9


def test_pss10_positive_items_agree_with_stress_after_reverse_keying(small):
    inst = get_instrument("pss10")
    s, stress = small.screenings, small.latent["stress"].to_numpy()
    for n in range(1, 11):
        raw = s[f"pss10_{n}"].astype("float64").to_numpy()
        keyed = inst.response_min + inst.response_max - raw if n in inst.reverse_keyed else raw
        ok = ~np.isnan(raw)
        assert np.corrcoef(keyed[ok], stress[ok])[0, 1] > 0.3, n


# ---------------------------------------------------------------- realism (n = 50,000)

def test_condition_prevalence_targets(big):
    # DESIGN.md service model: hypertension 27.5%, diabetes 11.9% of adults.
    assert big.residents["hypertension"].mean() == pytest.approx(0.275, abs=0.015)
    assert big.residents["diabetes"].mean() == pytest.approx(0.119, abs=0.015)
    for name in ("chd", "stroke", "copd", "asthma"):   # illustrative, lower
        assert 0.005 < big.residents[name].mean() < big.residents["diabetes"].mean()


@pytest.mark.parametrize("condition", ["hypertension", "diabetes"])
def test_prevalence_rises_with_age(big, condition):
    r = big.residents
    groups = pd.cut(r["age"], [17, 39, 49, 59, 69, 79, 120])
    by_age = r.groupby(groups, observed=True)[condition].mean()
    assert by_age.is_monotonic_increasing and by_age.iloc[-1] > 3 * by_age.iloc[0]


def test_demography_is_plausible(big):
    r, s = big.residents, big.screenings
    assert 0.45 < (r["sex"] == "female").mean() < 0.55
    assert 0.20 < (r["age"] >= 60).mean() < 0.35       # 2020 census: ~24% of adults are 60+
    mean_age = r.groupby("community_type", observed=True)["age"].mean()
    assert mean_age["ageing"] > mean_age["rural"] > mean_age["urban"]
    alone = r.groupby(pd.cut(r["age"], [17, 59, 69, 79, 120]), observed=True)["lives_alone"].mean()
    assert alone.is_monotonic_increasing
    interviewer = (s["mode"] == "interviewer").groupby(r["age"] >= 70).mean()
    assert interviewer[True] > interviewer[False] + 0.2


def test_anxiety_or_depression_by_chronic_disease(big, scores):
    # DESIGN.md service model: 42% of chronic patients vs 18% of others; positive = PHQ-9 >= 10
    # or GAD-7 >= 10 (REFERENCE.md, Kroenke 2001 / Spitzer 2006), scored by workbench.score.
    phq, gad = scores["phq9"]["score"], scores["gad7"]["score"]
    positive = ((phq >= 10) | (gad >= 10)).where(phq.notna() | gad.notna())
    chronic = big.residents[list(CONDITIONS)].any(axis=1)
    assert positive[chronic].mean() == pytest.approx(0.42, abs=0.03)
    assert positive[~chronic].mean() == pytest.approx(0.18, abs=0.03)


def test_loneliness_targets(big, scores):
    # DESIGN.md service model: 35% of over-60s (taken as aged 60+) and 58% of those living alone
    # are lonely; lonely = UCLA-3 total >= 6 (REFERENCE.md, check).
    ucla = scores["ucla3"]["score"]
    lonely = (ucla >= 6).where(ucla.notna())
    r = big.residents
    assert lonely[r["age"] >= 60].mean() == pytest.approx(0.35, abs=0.03)
    assert lonely[r["lives_alone"]].mean() == pytest.approx(0.58, abs=0.03)


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_cronbach_alpha_like_real_data(big, instrument):
    items = big.screenings[get_instrument(instrument).item_columns].astype("float64").dropna()
    assert len(items) > 40_000
    alpha, _ = pg.cronbach_alpha(data=items)
    assert 0.83 <= alpha <= 0.92


def test_phq9_item9_rare_but_present(big, scores):
    endorsed = (big.screenings["phq9_9"] >= 1).mean()
    assert 0.01 < endorsed < 0.08
    assert big.screenings["phq9_9"].isna().mean() > 0.01
    assert scores["phq9"]["self_harm"].isna().sum() == big.screenings["phq9_9"].isna().sum()


def test_more_blanks_for_older_and_kiosk_users(big):
    items = [c for i in INSTRUMENTS for c in get_instrument(i).item_columns if c != "phq15_4"]
    rate = big.screenings[items].isna().mean(axis=1)
    older = big.residents["age"] >= 70
    kiosk = big.screenings["mode"] == "self"
    assert rate[older].mean() > 1.3 * rate[~older].mean()
    assert rate[kiosk & ~older].mean() > 1.3 * rate[~kiosk & ~older].mean()


# ---------------------------------------------------------------- files, sample, CLI

def test_write_parquet_keeps_types(small, tmp_path):
    paths = small.write(tmp_path, format="parquet")
    back = pd.read_parquet(paths["screenings"])
    assert str(back["phq9_1"].dtype) == "Int8"
    pd.testing.assert_frame_equal(back, small.screenings, check_dtype=False,
                                  check_categorical=False)
    assert pd.read_parquet(paths["residents"])["lives_alone"].dtype == bool


def test_committed_sample_equals_the_documented_command(tmp_path, monkeypatch):
    catalogue = (SAMPLE / "CATALOGUE.md").read_text(encoding="utf-8")
    match = re.search(r"^python -m workbench\.synth (.+)$", catalogue, flags=re.M)
    assert match, "CATALOGUE.md must quote the command that regenerates the sample"
    args = shlex.split(match.group(1))
    assert args[args.index("--out") + 1] == "data_samples"
    assert "synthetic" in catalogue.lower() and "20261126" in catalogue
    args[args.index("--out") + 1] = str(tmp_path)
    assert main(args) == 0
    for name in ("residents.csv", "screenings.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), (
            f"data_samples/{name} differs from what the documented command generates: "
            "rerun it (see data_samples/CATALOGUE.md)")


def test_catalogue_documents_every_column():
    catalogue = (SAMPLE / "CATALOGUE.md").read_text(encoding="utf-8")
    for name in ("residents.csv", "screenings.csv"):
        for col in pd.read_csv(SAMPLE / name, nrows=0).columns:
            instrument = col.rsplit("_", 1)[0]
            assert f"`{col}`" in catalogue or f"`{instrument}_1`" in catalogue, col


def test_cli_reports_bad_arguments(capsys, tmp_path):
    assert main(["--n", "5", "--out", str(tmp_path)]) == 2
    assert "The 'n' parameter of community must be an int in [100, 1000000]. Got 5 instead." \
        in capsys.readouterr().err


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 5}, "The 'n' parameter of community must be an int in [100, 1000000]. Got 5 instead."),
    ({"n": 2_000_000}, "The 'n' parameter of community must be an int in [100, 1000000]. "
                       "Got 2000000 instead."),
    ({"n": 1000.0}, "The 'n' parameter of community must be an int in [100, 1000000]. "
                    "Got 1000.0 instead."),
    ({"n": True}, "Got True instead."),
    ({"seed": -1}, "The 'seed' parameter of community must be an int in [0, inf). "
                   "Got -1 instead."),
    ({"start": "2025-13-01"}, "The 'start' parameter of community must be a date (an ISO "
                              "'YYYY-MM-DD' string, datetime.date or numpy.datetime64)"),
    ({"start": "today"}, "Got 'today' instead."),
    ({"end": "2024-12-31"}, "The 'end' parameter of community must be a date on or after start "
                            "(2025-01-01). Got '2024-12-31' instead."),
    ({"instruments": "phq9"}, "The 'instruments' parameter of community must be a non-empty "
                              "tuple of distinct instrument ids among"),
    ({"instruments": ("phq9", "bdi")}, "Got ('phq9', 'bdi') instead."),
    ({"instruments": ("phq9", "phq9")}, "Got ('phq9', 'phq9') instead."),
    ({"instruments": ()}, "Got () instead."),
])
def test_argument_validation(kwargs, message):
    kwargs = {"n": 200, **kwargs}
    n = kwargs.pop("n")
    with pytest.raises(ValueError, match=re.escape(message)):
        community(n, **kwargs)


def test_write_format_validation(small, tmp_path):
    with pytest.raises(ValueError, match=re.escape(
            "The 'format' parameter of Community.write must be a str among "
            "{'csv', 'parquet'}. Got 'xlsx' instead.")):
        small.write(tmp_path, format="xlsx")
    assert not any(tmp_path.iterdir())


def test_dates_accept_date_objects():
    import datetime as dt

    a = community(300, seed=2, start=dt.date(2025, 3, 1), end=np.datetime64("2025-03-31"))
    b = community(300, seed=2, start="2025-03-01", end="2025-03-31")
    pd.testing.assert_frame_equal(a.screenings, b.screenings)
    assert a.screenings["assessed_on"].between("2025-03-01", "2025-03-31").all()


def test_params_check_themselves_when_loaded():
    from workbench.synth import _params

    raw = _params.load()
    raw.pop("_derived")
    raw["instruments"]["gad7"]["b"][2] = [1.0, 0.5, 2.0]
    with pytest.raises(ValueError, match=re.escape(
            "params.yaml: 'instruments.gad7.b[2]' must be strictly increasing.")):
        _params.check(raw)
    raw = _params.load()
    raw.pop("_derived")
    raw["instruments"]["ucla3"]["b"][0] = [0.0, 1.0, 2.0]
    with pytest.raises(ValueError, match=re.escape("must be 2 thresholds (declared answers 1-3)")):
        _params.check(raw)

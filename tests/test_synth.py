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
- Follow-up (brief; published-scale NHS Talking Therapies results), among referrals that
  finished treatment (>= 2 attended treatment contacts) with a paired score, first = baseline
  screening, last = last review, metrics as defined in REFERENCE.md "Change and outcome
  metrics": recovery 45-55%, reliable improvement 60-70%, reliable deterioration 5-10%; about a
  third "not improving" at week 8 (Sowa 2018); 15-25% of ended referrals dropped out (service
  model alert at 15%); some referrals with no second contact within 4 weeks (Bao 2016).
The long follow-up (events, waves, the RCT, monthly follow-up) is tested in
tests/test_synth_events.py.
The calibration assertions read the generator's raw frames (``Community.screenings`` ...). The
analysis tables (``Community.tables()``, what ``Community.write``, ``python -m workbench.synth``
and the committed sample hold) are checked against those frames, rebuilt here from their
definitions: every form one assessment per questionnaire given (blank answers stay blank), the
scores the save path stores (``workbench.records.score_assessments``), each screening's decision
= the policy's suggestion confirmed by ``admin`` at noon, referrals following the decided tiers,
contact status from ``attended``, surveys = the satisfaction rows, enrolments = trial + cohort.
Tolerances: +/- 3 percentage points for the service-model mental-health figures (each is
itself a rounded survey figure; the sampling SE at n = 50,000 is below 1 point), +/- 1.5
points for the condition prevalences (calibrated exactly, by expectation). The follow-up
targets are the brief's ranges (+/- 5 points around the calibrated values; SE about 0.5-1
point with ~13,000 finished referrals at n = 50,000).
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest

import workbench
from workbench import sample
from workbench.instruments import get_instrument
from workbench.synth import Community, community
from workbench.synth import _params, engine
from workbench.synth.__main__ import main
from workbench.synth._dates import whole_years
from workbench.tables import ITEM_COLUMNS, TABLES, read

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data_samples"
INSTRUMENTS = ("phq9", "gad7", "who5", "ucla3", "k10", "phq15", "pss10")
CONDITIONS = ("hypertension", "diabetes", "chd", "stroke", "copd", "asthma")
RESIDENT_COLUMNS = ["resident_id", "sex", "birth_date", "age", "community", "community_type",
                    "lives_alone", *CONDITIONS, "ckd"]
REFERRAL_COLUMNS = ["referral_id", "resident_id", "referred_on", "tier", "rule", "ended_on",
                    "end_reason", "referral_source", "appointment_on", "hospital_seen_on"]
CONTACT_COLUMNS = ["contact_id", "resident_id", "referral_id", "contact_on", "kind", "attended"]
FOLLOWUP_COLUMNS = ["resident_id", "referral_id", "contact_id", "assessed_on", "week", "mode",
                    "language"]
#: The studies as the brief names them: the 12-month RCT and the 5-year cohort of key patients.


def item_columns(instrument: str) -> list[str]:
    inst = get_instrument(instrument)
    return inst.item_columns + inst.supplementary_columns


def text(values: pd.Series) -> np.ndarray:
    """Values as text, any kind of blank as ``""`` (to compare categories, strings, booleans)."""
    return values.astype(object).where(values.notna(), "").astype(str).to_numpy()


@pytest.fixture(scope="module")
def big() -> Community:
    return community(50_000, seed=20261126)


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
    spawned = np.random.SeedSequence(99).spawn(18)
    for key in range(18):
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
    assert r.drop(columns="ckd").notna().all().all()
    assert str(r["ckd"].dtype) == "boolean"        # chronic kidney disease: blank = not recorded
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


def test_blanks_are_na_never_zero(small, small_tables, tmp_path):
    s = small.screenings
    items = [c for i in INSTRUMENTS for c in get_instrument(i).item_columns if c != "phq15_4"]
    blank = s[items].isna()
    assert 0.005 < blank.to_numpy().mean() < 0.06
    assert s["phq9_9"].isna().any()
    # stored as assessments (one per questionnaire given), a blank answer stays blank, never 0
    a = small_tables.assessments
    screened = a[a["purpose"] == "screening"]
    for instrument in INSTRUMENTS:
        columns = [c for c in get_instrument(instrument).item_columns if c != "phq15_4"]
        given = s[s[item_columns(instrument)].notna().any(axis=1)]
        mine = screened[screened["instrument"] == instrument]
        assert len(mine) == len(given), instrument
        stored = mine[[f"item_{c.rsplit('_', 1)[1]}" for c in columns]]
        assert stored.isna().sum().sum() == given[columns].isna().sum().sum(), instrument
    # ... and is written as an empty field, never as 0
    small.write(tmp_path)
    text = pd.read_csv(tmp_path / "assessments.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")[list(ITEM_COLUMNS)].to_numpy()
    is_blank = a[list(ITEM_COLUMNS)].isna().to_numpy()
    assert is_blank.any() and (text[is_blank] == "").all()
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

def test_write_csv_and_parquet_read_back_as_the_same_tables(small, small_tables, tmp_path):
    assert small.write(tmp_path / "csv") == tmp_path / "csv"
    small.write(tmp_path / "pq", format="parquet")
    for folder, suffix in (("csv", "csv"), ("pq", "parquet")):
        assert sorted(p.name for p in (tmp_path / folder).iterdir()) == sorted(
            [f"{name}.{suffix}" for name in TABLES] + ["dictionary_en.csv", "dictionary_zh.csv", "tables.json"])
    from_csv, from_parquet = read(tmp_path / "csv"), read(tmp_path / "pq")
    assert from_csv.attrs["seed"] == from_parquet.attrs["seed"] == 11
    for name in TABLES:
        pd.testing.assert_frame_equal(from_csv[name], from_parquet[name], obj=name)
        pd.testing.assert_frame_equal(from_csv[name], small_tables[name], obj=name)
    a = from_parquet.assessments
    assert str(a["item_1"].dtype) == "Int8" and str(a["visit"].dtype) == "Int16"
    assert from_parquet.residents["lives_alone"].dtype == bool
    # a blank (an open referral's end, a review's unanswered item) is an empty CSV field
    r = pd.read_csv(tmp_path / "csv" / "referrals.csv", dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert ((r["ended_on"] == "") == small_tables.referrals["ended_on"].isna().to_numpy()).all()
    # writing again replaces the files
    small.write(tmp_path / "csv")
    pd.testing.assert_frame_equal(read(tmp_path / "csv").scores, small_tables.scores)


def _quoted(catalogue: str, module: str) -> list[str]:
    match = re.search(rf"^python -m {re.escape(module)}\b(.*?)$", catalogue, flags=re.M)
    assert match, f"CATALOGUE.md must quote the command that regenerates the sample ({module})"
    return shlex.split(match.group(1))


def test_committed_sample_equals_the_documented_command(tmp_path):
    catalogue = (SAMPLE / "CATALOGUE.md").read_text(encoding="utf-8")
    assert "synthetic" in catalogue.lower() and "20261126" in catalogue
    args = _quoted(catalogue, "workbench.sample")
    assert "--out" not in args          # the documented command writes data_samples/ itself
    assert sample.main([*args, "--out", str(tmp_path)]) == 0
    def files(folder: Path) -> list[str]:  # with the synthetic geography in geo/ (workbench.geo.sample_data)
        return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())

    committed = files(SAMPLE)
    assert files(tmp_path) == committed    # no file more, none missing
    assert "CATALOGUE.md" in committed and "assessments.csv" in committed
    assert {"geo/communities.geojson", "geo/service_points.geojson", "geo/homes.csv", "geo/README.md"} <= set(committed)
    for name in committed:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), (
            f"data_samples/{name} differs from what the documented command generates: "
            "rerun it (see data_samples/CATALOGUE.md)")


def test_the_generator_command_in_the_catalogue_writes_the_same_tables(tmp_path):
    # CATALOGUE.md: "the same as `python -m workbench.synth --n 3000 --seed 20261126 --out
    # data_samples`, plus this catalogue"
    catalogue = (SAMPLE / "CATALOGUE.md").read_text(encoding="utf-8")
    match = re.search(r"`python -m workbench\.synth ([^`]+)`", catalogue)
    assert match, "CATALOGUE.md must say which generator command makes the tables"
    args = shlex.split(match.group(1))
    assert args[args.index("--out") + 1] == "data_samples"
    assert int(args[args.index("--n") + 1]) == sample.SAMPLE_N
    assert int(args[args.index("--seed") + 1]) == sample.SAMPLE_SEED
    args[args.index("--out") + 1] = str(tmp_path)
    assert main(args) == 0
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in SAMPLE.iterdir() if p.name not in ("CATALOGUE.md", "geo"))
    # "... plus the wristband pilot's wearable_days and the risk model's risk_predictions"
    # (workbench/sample_early_warning.py): the generator writes those two tables empty.
    added = {"wearable_days.csv", "risk_predictions.csv", "tables.json"}
    for name in written:
        if name not in added:
            assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    for name in ("wearable_days.csv", "risk_predictions.csv"):
        generated = (tmp_path / name).read_text(encoding="utf-8").splitlines()
        assert generated == (SAMPLE / name).read_text(encoding="utf-8").splitlines()[:1]  # the header alone
    counts = json.loads((tmp_path / "tables.json").read_text(encoding="utf-8"))["tables"]
    committed = json.loads((SAMPLE / "tables.json").read_text(encoding="utf-8"))["tables"]
    assert counts["wearable_days"] == counts["risk_predictions"] == 0
    assert committed["wearable_days"] > 0 and committed["risk_predictions"] > 0
    assert {k: v for k, v in counts.items() if k not in ("wearable_days", "risk_predictions")} == {
        k: v for k, v in committed.items() if k not in ("wearable_days", "risk_predictions")}


def test_catalogue_is_generated_and_documents_every_column():
    text = (SAMPLE / "CATALOGUE.md").read_text(encoding="utf-8")
    loaded = sample.load_sample()
    assert text == sample.catalogue(loaded)
    n_items = len(ITEM_COLUMNS)
    for name, spec in TABLES.items():
        assert f"## `{name}` ({len(loaded[name]):,} rows)" in text, name
        for column in spec.names:
            if re.fullmatch(r"item_\d+", column):    # the answers share one documented row
                assert f"`item_1` ... `item_{n_items}`" in text and int(column[5:]) <= n_items
            else:
                assert f"`{column}`" in text, (name, column)
        header = pd.read_csv(SAMPLE / f"{name}.csv", nrows=0, encoding="utf-8-sig").columns.tolist()
        assert header == spec.names, name       # the files hold exactly the declared columns


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
    ({"seed": -1}, "The 'seed' parameter of community must be an int >= 0. "
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
            "The 'format' parameter of Community.write must be one of "
            "'csv', 'parquet'. Got 'xlsx' instead.")):
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
    raw = _params.load()
    raw.pop("_derived")
    raw["care"]["tiers"][2]["p_dropout"] = 1.5
    with pytest.raises(ValueError, match=re.escape(
            "params.yaml: 'care.tiers.2.p_dropout' must be a probability in [0, 1]. Got 1.5")):
        _params.check(raw)


# ---------------------------------------------------------------- follow-up after screening

def test_follow_up_steps_leave_the_baseline_untouched(small):
    # The baseline steps alone give the same residents/screenings/latent as the full pipeline
    # (the committed sample, regenerated byte-for-byte above, checks the same on files).
    baseline = ("demography", "schedule", "conditions", "latent", "answers", "missingness",
                "skip_logic")
    draft = engine.Draft(n=2_000, seed=11, start=np.datetime64("2025-01-01"),
                         end=np.datetime64("2025-12-31"), instruments=small.instruments,
                         params=_params.load())
    engine.run(draft, baseline)
    assert "referral" not in engine.order(baseline)
    assert np.array_equal(draft.latent["depression"], small.latent["depression"].to_numpy())
    for j, col in enumerate(item_columns("phq9")):
        ref = pd.arrays.IntegerArray(draft.work["answers"]["phq9"][:, j].copy(),
                                     draft.work["blank"]["phq9"][:, j].copy())
        pd.testing.assert_extension_array_equal(ref, small.screenings[col].array)
    keys = {s.name: s.key for s in engine.STEPS.values()}
    assert [keys[k] for k in ("contacts", "trajectory", "followup_answers",
                              "followup_missingness")] == [7, 8, 9, 10]


def test_follow_up_is_deterministic(small):
    again = community(2_000, seed=11)
    for name in ("referrals", "contacts", "followups"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(small, name))
    other = community(2_000, seed=12)
    assert not other.contacts.equals(small.contacts)


def test_referrals_are_the_policy_tiers_2_and_3(small):
    data = small.screenings.merge(small.residents, on="resident_id")
    screened = workbench.screen(data, policy="default")
    expected = data.loc[screened["tier"].isin([2, 3]).fillna(False).to_numpy(), "resident_id"]
    r = small.referrals
    assert r.columns.tolist() == REFERRAL_COLUMNS
    assert r["resident_id"].tolist() == expected.tolist()          # tier 1 and NA: none
    assert r["referral_id"].is_unique and r["referral_id"].str.fullmatch(r"F\d{7}").all()
    tiers = screened.set_index(data["resident_id"]).loc[r["resident_id"]]
    assert (r["tier"].to_numpy() == tiers["tier"].to_numpy()).all()
    assert (r["rule"].astype(str).to_numpy() == tiers["rule"].astype(str).to_numpy()).all()
    on = small.screenings.set_index("resident_id").loc[r["resident_id"], "assessed_on"]
    assert (r["referred_on"].to_numpy() == on.to_numpy()).all()
    assert str(r["tier"].dtype) == "Int8" and set(r["tier"]) == {2, 3}
    assert set(r["end_reason"].dropna()) == {"completed", "dropped_out"}
    assert r["end_reason"].notna().equals(r["ended_on"].notna())
    assert small.policy == "default@1.1"


def test_contacts_schema_and_timing(small):
    c, r = small.contacts, small.referrals.set_index("referral_id")
    assert c.columns.tolist() == CONTACT_COLUMNS
    assert c["contact_id"].is_unique and c["contact_id"].str.fullmatch(r"C\d{7}").all()
    assert c["kind"].cat.categories.tolist() == ["treatment", "assessment", "phone", "visit"]
    assert not (c["kind"] == "visit").any()          # visits: monthly follow-up (>= 2 years)
    assert c["attended"].dtype == bool and 0.05 < (~c["attended"]).mean() < 0.25
    assert set(c["referral_id"]) == set(r.index)
    assert (c["resident_id"].to_numpy() == r.loc[c["referral_id"], "resident_id"].to_numpy()).all()
    referred = r.loc[c["referral_id"], "referred_on"].to_numpy()
    assert (c["contact_on"].to_numpy() >= referred).all()
    assert (c["contact_on"] <= pd.Timestamp(small.follow_up_end)).all()
    assert c.groupby("referral_id", sort=False)["contact_on"].is_monotonic_increasing.all()
    first = c.groupby("referral_id").first()
    delay = (first["contact_on"] - r.loc[first.index, "referred_on"]).dt.days
    tier = r.loc[first.index, "tier"]
    urgent = r.loc[first.index, "rule"] == "self_harm"
    assert delay[tier == 3].between(0, 3).all() and (delay[urgent] == 0).all()
    assert delay[tier == 2].median() == pytest.approx(14, abs=2)
    last = c.groupby("referral_id")["contact_on"].max()
    closed = r["ended_on"].notna()
    assert (r.loc[closed, "ended_on"] == last[r.index[closed]]).all()   # ends on its last contact
    weeks = (last - r.loc[last.index, "referred_on"]).dt.days / 7
    completed = r.loc[last.index, "end_reason"] == "completed"
    assert weeks[completed & (tier == 2)].between(8, 30).all()


def test_followups_are_attended_reviews_in_the_screening_format(small):
    f, c = small.followups, small.contacts.set_index("contact_id")
    items = item_columns("phq9") + item_columns("gad7")
    assert f.columns.tolist() == FOLLOWUP_COLUMNS + items
    at = c.loc[f["contact_id"]]
    assert (at["kind"] == "assessment").all() and at["attended"].all()
    assert (at["referral_id"].to_numpy() == f["referral_id"].to_numpy()).all()
    assert (at["contact_on"].to_numpy() == f["assessed_on"].to_numpy()).all()
    n_reviews = ((c["kind"] == "assessment") & c["attended"]).sum()
    assert len(f) == n_reviews
    referred = small.referrals.set_index("referral_id").loc[f["referral_id"], "referred_on"]
    days = (f["assessed_on"].to_numpy() - referred.to_numpy()) / np.timedelta64(1, "D")
    assert (days >= 0).all() and (f["week"].to_numpy() == days // 7).all()
    assert str(f["week"].dtype) == "int64" and set(f["week"]) >= {4, 8, 12}
    assert (f["assessed_on"] <= pd.Timestamp(small.follow_up_end)).all()
    assert f["language"].cat.categories.tolist() == ["zh", "en"]
    for col in items:
        assert str(f[col].dtype) == "Int8"
        assert f[col].dropna().between(0, 3).all()
    assert 0.003 < f[[c for c in items if c != "phq9_10"]].isna().to_numpy().mean() < 0.06
    total = f[item_columns("phq9")[:9]].fillna(0).sum(axis=1)
    assert f.loc[total == 0, "phq9_10"].isna().all()


def test_dropouts_are_not_assessed_after_they_stop(small):
    r = small.referrals.set_index("referral_id")
    dropped = r.index[r["end_reason"] == "dropped_out"]
    f = small.followups[small.followups["referral_id"].isin(dropped)]
    assert (f["assessed_on"].to_numpy() <= r.loc[f["referral_id"], "ended_on"].to_numpy()).all()
    c = small.contacts[small.contacts["referral_id"].isin(dropped)]
    last = c.groupby("referral_id").last()
    assert (~last["attended"] | (last["kind"] == "phone")).mean() > 0.9   # they stop attending


def test_follow_up_end_cuts_without_changing_earlier_contacts(small):
    cut = "2026-01-31"
    early = community(2_000, seed=11, follow_up_end="2025-12-31")      # = end: allowed
    for frame, col in ((early.contacts, "contact_on"), (early.followups, "assessed_on")):
        assert (frame[col] <= pd.Timestamp("2025-12-31")).all()
    shorter = community(2_000, seed=11, follow_up_end=cut)
    open_ = shorter.referrals["end_reason"].isna()
    assert open_.sum() > 50 and shorter.referrals.loc[open_, "ended_on"].isna().all()
    keep = small.contacts["contact_on"] <= cut
    cols = ["resident_id", "referral_id", "contact_on", "kind", "attended"]
    pd.testing.assert_frame_equal(shorter.contacts[cols],
                                  small.contacts.loc[keep, cols].reset_index(drop=True))
    closed = small.referrals["ended_on"] <= cut
    assert shorter.referrals["ended_on"].notna().equals(closed)


def test_trait_trajectories_improve_on_average(small):
    from workbench.synth.trajectory import trait_at

    draft = engine.Draft(n=2_000, seed=11, start=np.datetime64("2025-01-01"),
                         end=np.datetime64("2025-12-31"), instruments=small.instruments,
                         params=_params.load(),
                         follow_up_end=np.datetime64("2026-12-31"),
                         policy=workbench.load_policy("default"))
    engine.run(draft)
    everyone = np.arange(2_000)
    later = draft.screenings["assessed_on"] + np.timedelta64(180, "D")
    moved = trait_at(draft, "depression", everyone, later) - draft.latent["depression"]
    referred = draft.work["referral_of"] >= 0
    assert (moved[~referred] == 0).all()                 # tier 1: unchanged (for now)
    assert np.median(moved[referred]) < -0.3 and (moved[referred] > 0.1).mean() < 0.1
    before = trait_at(draft, "depression", everyone, draft.screenings["assessed_on"])
    assert np.array_equal(before, draft.latent["depression"])
    assert np.array_equal(trait_at(draft, "wellbeing", everyone, later), draft.latent["wellbeing"])


def outcome_rates(c: Community) -> dict[str, float]:
    """REFERENCE.md definitions, computed directly (not with workbench.outcomes)."""
    ref, con, fu = c.referrals, c.contacts, c.followups
    treated = con[con["attended"] & (con["kind"] == "treatment")].groupby("referral_id").size()
    finished = treated.reindex(ref["referral_id"]).fillna(0).to_numpy() >= 2
    base = c.screenings.set_index("resident_id").loc[ref["resident_id"]].reset_index()
    b_phq, b_gad = (workbench.score(base, i)["score"].to_numpy() for i in ("phq9", "gad7"))
    f = fu.assign(phq=workbench.score(fu, "phq9")["score"],
                  gad=workbench.score(fu, "gad7")["score"])
    last = f.sort_values("assessed_on").groupby("referral_id").last().reindex(ref["referral_id"])
    l_phq, l_gad = last["phq"].to_numpy(dtype=float), last["gad"].to_numpy(dtype=float)
    paired = finished & ~np.isnan(b_phq + b_gad + l_phq + l_gad)
    case_start, case_end = (b_phq >= 10) | (b_gad >= 8), (l_phq >= 10) | (l_gad >= 8)
    worse_phq, worse_gad = l_phq - b_phq >= 6, l_gad - b_gad >= 4
    better = ((b_phq - l_phq >= 6) & ~worse_gad) | ((b_gad - l_gad >= 4) & ~worse_phq)
    wk8 = f[f["week"].between(8, 12) & f["phq"].notna()].sort_values("assessed_on")
    p8 = wk8.groupby("referral_id")["phq"].first().reindex(ref["referral_id"]).to_numpy(float)
    at8 = (b_phq >= 10) & ~np.isnan(p8)
    first = con.groupby("referral_id")["contact_on"].transform("min")
    soon = con[con["attended"] & (con["contact_on"] > first)
               & (con["contact_on"] <= first + pd.Timedelta(days=28))]
    return {
        "recovery": (case_start & ~case_end)[paired].sum() / (case_start & paired).sum(),
        "reliable_improvement": better[paired].mean(),
        "reliable_deterioration": (worse_phq | worse_gad)[paired].mean(),
        "not_improving_week8": (~((p8 < 10) | (p8 <= 0.5 * b_phq)))[at8].mean(),
        "dropout": (ref["end_reason"] == "dropped_out").sum() / ref["end_reason"].notna().sum(),
        "no_second_contact_by_week4": 1 - soon["referral_id"].nunique() / len(ref),
        "paired_share": paired.sum() / finished.sum(),
    }


def test_follow_up_calibration_targets(big):
    rates = outcome_rates(big)
    assert 0.45 <= rates["recovery"] <= 0.55
    assert 0.60 <= rates["reliable_improvement"] <= 0.70
    assert 0.05 <= rates["reliable_deterioration"] <= 0.10
    assert 0.25 <= rates["not_improving_week8"] <= 0.42          # "roughly a third"
    assert 0.15 <= rates["dropout"] <= 0.25
    assert 0.05 <= rates["no_second_contact_by_week4"] <= 0.25
    assert rates["paired_share"] > 0.9
    assert 0.2 < len(big.referrals) / len(big.residents) < 0.4


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"follow_up_end": "2025-06-30"},
     "The 'follow_up_end' parameter of community must be a date on or after end (2025-12-31). "
     "Got '2025-06-30' instead."),
    ({"follow_up_end": "today"}, "The 'follow_up_end' parameter of community must be None or a date"),
    ({"policy": "strict"}, "The 'policy' parameter of community must be a stepped-care policy"),
    ({"policy": 3}, "Got 3 instead."),
])
def test_follow_up_argument_validation(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        community(200, **kwargs)


def test_no_referrals_without_scorable_policy_questionnaires():
    c = community(300, seed=1, instruments=("who5",))
    assert c.referrals.empty and c.contacts.empty and c.followups.empty
    assert c.followups.columns.tolist() == FOLLOWUP_COLUMNS

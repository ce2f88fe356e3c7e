"""One data spine (issue 13): answers are scored and tiers assigned only by the scoring engine,
stepped care and the save path (the registry's, which the sample and the generator also use);
every analysis, app, notebook and report reads what was stored and decided.

The check reads the code (every call in the package and in every notebook's code cells), so a new
analysis that scores or tiers again by itself fails here, naming the file and the line."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: The calls that score answers or assign tiers.
SCORING_OR_TIERING = {"score", "score_all", "score_valid", "screen", "assign_tiers"}
#: Where they may be called: the scoring engine, stepped care and the save path.
ALLOWED = ("workbench/scoring.py", "workbench/stepped_care.py", "workbench/records.py", "workbench/registry/",
           "workbench/scale/",  # the same engine per partition, for cohorts past one machine
           "notebooks/06_scale_out.ipynb")  # checks that engine against the one-machine one on a raw synthetic cohort


def _calls(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "scale":
                continue  # workbench.scale: the same engine per partition, for cohorts past one machine
            if name in SCORING_OR_TIERING:
                found.append((node.lineno, name))
    return found


def _sources():
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), path.read_text(encoding="utf-8")
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        code = "\n".join(line for line in code.splitlines() if not line.lstrip().startswith(("%", "!")))
        yield path.relative_to(ROOT).as_posix(), code


def test_nothing_scores_or_assigns_tiers_outside_the_engine_stepped_care_and_the_save_path():
    offenders = [f"{name}:{line} calls {call}()" for name, source in _sources() if not name.startswith(ALLOWED)
                 for line, call in _calls(source)]
    assert offenders == [], "scoring or tier assignment outside the save path:\n" + "\n".join(offenders)


def test_the_check_finds_such_a_call():
    assert _calls("import workbench\nworkbench.screen(data)\nx = score_all(d)") == [(2, "screen"), (3, "score_all")]
    assert _calls("t.screenings()\nscores = t.scores_of('phq9')\nscale.screen('cohort/')") == []


@pytest.mark.parametrize("name", ["quality.py", "cohort.py", "trial.py", "economics.py", "report.py"])
def test_the_analyses_take_the_analysis_tables(name):
    source = (ROOT / "workbench" / name).read_text(encoding="utf-8")
    assert "followups" not in source and "trial_assessments" not in source, name

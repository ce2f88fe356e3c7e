"""The staff apps start fast without a pool (issue 12): a kernel started on request runs the app's
notebook while the person waits, so the screening station and the follow-up list import only
what they use. (How long it takes is measured by benchmarks/bench_apps.py, not here.)"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Heavy libraries a form does not need: statistics, plots, table schemas, migrations, analyses.
HEAVY = ["scipy", "lifelines", "pingouin", "matplotlib", "pandera", "alembic", "dask", "voila", "jupyter_server",
         "workbench.quality", "workbench.survival", "workbench.epi", "workbench.ui.explorer"]


def _imported_after(code: str) -> list[str]:
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("app, component", [("screening", "ScreeningStation"), ("caseload", "CaseloadView"),
                                            ("visit", "VisitView")])
def test_a_staff_app_imports_only_what_it_uses(app, component):
    code = (f"from workbench import ui\nfrom workbench.registry.store import Registry\n"
            f"ui.App, ui.StaffGate, ui.{component}, ui.app_language()")
    assert _imported_after(code) == []


def test_the_package_names_still_work_when_used():
    import workbench
    import workbench.ui as ui

    assert set(workbench.__all__) <= set(dir(workbench)) and set(ui.__all__) <= set(dir(ui))
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None
    for name in ui.__all__:
        assert getattr(ui, name) is not None
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        ui.nope  # noqa: B018


def test_the_heavy_parts_are_still_there_when_asked_for():
    assert "workbench.ui.explorer" in _imported_after("from workbench import ui\nui.KMExplorer")
    assert "pandera" in _imported_after("from workbench.registry.imports import validate_residents\n"
                                        "import pandas as pd\nvalidate_residents(pd.DataFrame({'resident_id': ['a']}))")

"""Registry cases for the benchmark runner: importing screenings into SQLite, reading them back.

Setup (not timed) generates ``workbench.synth.community(n, seed=1)``, writes its residents and
its PHQ-9 + GAD-7 screenings to CSV and reads them back with the importer's own reader (text
cells, exactly what ``workbench import`` sees), and makes a SQLite registry holding the n
residents. Each timed import starts from a fresh copy of that registry (the runner calls ``run``
more than once; a second import into the same file would only find everything already stored),
so the time includes copying the file, a small part of the total.

    python benchmarks/run.py --only "registry import screenings (phq9+gad7, SQLite)" \
        "registry read assessments into pandas (SQLite)" --sizes 1000 10000 100000 --repeat 1
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

from workbench.registry.imports import read_table
from workbench.registry.store import Registry

_copies = itertools.count()


def _files(n: int, folder: Path):
    from workbench.synth import community

    c = community(n, seed=1, instruments=("phq9", "gad7"))
    c.residents.to_csv(folder / "residents.csv", index=False, date_format="%Y-%m-%d")
    c.screenings.to_csv(folder / "screenings.csv", index=False, date_format="%Y-%m-%d")
    return read_table(folder / "residents.csv"), read_table(folder / "screenings.csv")


def _registry_with_residents(n: int):
    folder = tempfile.TemporaryDirectory(prefix="bench-registry-")  # removed when the case's args go
    residents, screenings = _files(n, Path(folder.name))
    path = Path(folder.name) / "template.sqlite"
    registry = Registry(str(path))
    registry.init()
    registry.import_residents(residents, by="admin")
    registry.engine.dispose()  # checkpoints the WAL into the file: one file to copy
    return folder, path, screenings


def _setup_import(n: int):
    return _registry_with_residents(n)


def _run_import(folder, template: Path, screenings) -> None:
    path = Path(folder.name) / f"run{next(_copies)}.sqlite"
    shutil.copyfile(template, path)
    registry = Registry(str(path))
    result = registry.import_assessments(screenings, by="admin", source="screenings.csv")
    registry.engine.dispose()
    assert result.written == 2 * len(screenings) and result.problems.empty, result
    path.unlink()


def _setup_read(n: int):
    folder, path, screenings = _registry_with_residents(n)
    registry = Registry(str(path))
    registry.import_assessments(screenings, by="admin", source="screenings.csv")
    return folder, registry, 2 * n


def _run_read(folder, registry: Registry, expected: int) -> None:
    frame = registry.assessments(as_user="admin")
    assert len(frame) == expected


CASES = {
    "registry import screenings (phq9+gad7, SQLite)": (_setup_import, _run_import),
    "registry read assessments into pandas (SQLite)": (_setup_read, _run_read),
}


#: The registry's goal is stated at 100,000 screenings; 10^6 takes several minutes per run.
MAX_ROWS = {name: 100_000 for name in CASES}

"""The project's set-up files agree with each other and with the client's requirements."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _reqs(strings):
    return {Requirement(s).name.lower(): str(Requirement(s).specifier) for s in strings}


def test_environment_yml_installs_exactly_what_pyproject_declares():
    project = _pyproject()
    extras = [req for group in project["optional-dependencies"].values() for req in group]
    declared = _reqs(project["dependencies"] + extras)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = _reqs([s for s in pip_section if not s.startswith("-e")])
    assert listed == declared
    assert "-e ." in pip_section
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert SpecifierSet(project["requires-python"]).contains(python.split("=")[-1] + ".0")


def test_client_packages_are_pinned_to_known_good_ranges():
    deps = _reqs(_pyproject()["dependencies"])
    checks = {
        "jupyterlab": ("4.2", "5.0"), "ipywidgets": ("8.1", "9.0"), "voila": ("0.5.6", "0.6"),
        "pandas": ("2.2", "3.0"), "pingouin": ("0.5.5", None), "lifelines": ("0.29", None),
        "ipykernel": ("6.29", None),
    }
    for name, (good, excluded) in checks.items():
        spec = SpecifierSet(deps[name])
        assert spec.contains(good), (name, spec)
        assert "<" in str(spec), f"{name} needs an upper bound"
        if excluded:
            assert not spec.contains(excluded), (name, spec)
    # the file-read CVE fixed in voila 0.5.6
    assert not SpecifierSet(deps["voila"]).contains("0.5.5")


def test_no_unlicensed_questionnaire_is_shipped():
    shipped = {p.stem for p in (ROOT / "workbench" / "instruments").glob("*.yaml")}
    assert not shipped & {"epds", "sf36", "sf12", "sf36v2", "sf12v2"}
    text = "\n".join(p.read_text() for p in (ROOT / "workbench").rglob("*.yaml"))
    assert not re.search(r"edinburgh postnatal", text, re.I)


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme

"""Run the workshop notebooks in a chosen language and write them as HTML handouts.

``make handouts`` (``python -m workbench.handouts``) executes every analyst notebook in
``notebooks/`` top to bottom, once in Chinese and once in English, on the embedded sample, and
writes ``handouts/<notebook>.<lang>.html``: the text, tables and figures a trainer hands out. The
language is set the way a person sets it, by the ``LANG = "..."`` line of the first code cell; the
stored notebooks are not changed. The same :func:`execute` runs the notebooks in the tests.

Examples
--------
>>> import nbformat
>>> nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('LANG = "zh"  # "zh" or "en"')])
>>> with_language(nb, "en").cells[0].source
'LANG = "en"  # "zh" or "en"'
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

from workbench.instruments import LANG, LANGUAGES
from workbench.params import check

__all__ = ["ROOT", "analyst_notebooks", "execute", "problems_in", "to_html", "with_language", "write_handouts"]

ROOT = Path(__file__).resolve().parent.parent
_LANG_LINE = re.compile(r'^LANG\s*=\s*"(zh|en)"', re.MULTILINE)


def analyst_notebooks(root: Path | str = ROOT) -> list[Path]:
    """The workshop notebooks (``notebooks/NN_*.ipynb``), not the staff apps."""
    return sorted(Path(root, "notebooks").glob("[0-9][0-9]_*.ipynb"))


def with_language(nb, lang: str):
    """A copy of ``nb`` whose first code cell sets ``LANG = lang``; an error if it sets none."""
    check("with_language", "lang", lang, LANG)
    out = copy.deepcopy(nb)
    first = next((c for c in out.cells if c.cell_type == "code"), None)
    if first is None or not _LANG_LINE.search(first.source):
        raise ValueError('the first code cell must set the language: LANG = "zh"  # "zh" or "en"')
    first.source = _LANG_LINE.sub(f'LANG = "{lang}"', first.source, count=1)
    return out


def execute(path: Path | str, lang: str, *, timeout: int = 300):
    """Run the notebook at ``path`` in ``lang`` top to bottom; returns the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = with_language(nbformat.read(path, as_version=4), lang)
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def problems_in(nb) -> list[str]:
    """Errors and warnings in an executed notebook's outputs (anything on stderr counts)."""
    found = []
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.output_type == "error":
                found.append(f"cell {i}: {out.ename}: {out.evalue}")
            elif out.output_type == "stream" and out.name == "stderr" and out.text.strip():
                found.append(f"cell {i}: stderr: {out.text.strip()[:300]}")
            elif "Warning" in str(out.get("text", "")):
                found.append(f"cell {i}: {str(out['text']).strip()[:300]}")
    return found


def to_html(nb, *, title: str) -> str:
    """The executed notebook as one self-contained HTML page: figures embedded, code shown (a
    trainee sees what produced each result)."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="lab")
    nb = copy.deepcopy(nb)
    nb.metadata["title"] = title
    body, _ = exporter.from_notebook_node(nb)
    return body


def write_handouts(out_dir: Path | str, *, notebooks: list[Path] | None = None,
                   languages: tuple[str, ...] = tuple(LANGUAGES)) -> list[Path]:
    """Execute each notebook in each language and write ``<out_dir>/<stem>.<lang>.html``.

    Stops at the first notebook whose run shows an error or a warning, naming it (a handout
    with a traceback helps nobody); what was written before stays."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in notebooks or analyst_notebooks():
        for lang in languages:
            nb = execute(path, lang)
            bad = problems_in(nb)
            if bad:
                raise RuntimeError(f"{path.name} ({lang}): " + "; ".join(bad))
            target = out_dir / f"{path.stem}.{lang}.html"
            target.write_text(to_html(nb, title=f"{path.stem} ({lang})"), encoding="utf-8")
            written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.handouts", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "handouts"), help="folder for the HTML files (default: handouts/)")
    parser.add_argument("--lang", choices=list(LANGUAGES), action="append", help="one language only (repeatable)")
    parser.add_argument("notebooks", nargs="*", help="notebook files (default: every notebooks/NN_*.ipynb)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.notebooks] or None
    for target in write_handouts(args.out, notebooks=paths, languages=tuple(args.lang or LANGUAGES)):
        print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

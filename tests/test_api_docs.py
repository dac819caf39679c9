"""The API reference (pdoc, from the docstrings) builds for every public module, and no public docstring
cites the project's own history (issue numbers, seed files, "the student") instead of a named source."""

import importlib
import pkgutil
import re

import pytest

import proxgan

pdoc = pytest.importorskip("pdoc", reason="pdoc not installed (pip install -e '.[dev]')")

PUBLIC_MODULES = ["proxgan"] + sorted(
    m.name for m in pkgutil.walk_packages(proxgan.__path__, "proxgan.")
    if not any(part.startswith("_") for part in m.name.split("."))
)
HISTORY = re.compile(r"\bissue\s*#?\d+|\bseeds?\s*#?\d{3}\b|\bstudent\b(?!['’]?s?[ -]t\b)", re.IGNORECASE)


def test_public_modules_are_found():
    assert {"proxgan.metrics.classifier", "proxgan.cli.evaluate", "proxgan.games.experiment"} <= set(PUBLIC_MODULES)


def test_api_reference_builds_a_page_for_every_public_module(tmp_path):
    pdoc.render.configure(docformat="restructuredtext")
    pdoc.pdoc("proxgan", output_directory=tmp_path)  # as the README's command: its submodules come along
    for name in PUBLIC_MODULES:
        page = tmp_path.joinpath(*name.split(".")).with_suffix(".html")
        assert page.is_file(), name
    assert "retrain" in (tmp_path / "proxgan" / "metrics" / "classifier.html").read_text()


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_docstrings_cite_sources_not_project_history(name):
    module = pdoc.doc.Module(importlib.import_module(name))
    cited = [(d.fullname, HISTORY.search(d.docstring).group(0))
             for d in [module, *module.flattened_own_members] if HISTORY.search(d.docstring or "")]
    assert cited == []


def test_history_pattern_catches_what_it_must():
    assert all(HISTORY.search(s) for s in ("see issue 2", "Issue #13", "seed 004", "the student's MLP"))
    assert not any(HISTORY.search(s) for s in ("seed 0", "torch.manual_seed(2020)", "Sharma & Baptista",
                                               "a Student t interval", "Student's t distribution",
                                               "a Student-t critical value"))

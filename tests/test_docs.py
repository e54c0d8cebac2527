"""The documentation's reference lists every public name, and nothing that is gone.

A cheap check without Sphinx: the reference pages (``docs/reference/*.rst``) list names in
``autosummary`` blocks under a ``currentmodule``; the public names are the ``__all__`` of each
namespace that ``docs/_ext/ag_docs.py`` documents. The documentation's build checks the same and
more (docstrings, cross-references, executed tutorials); this catches a forgotten name in seconds.
"""

from __future__ import annotations

import ast
import functools
import importlib
import re
from pathlib import Path
from types import ModuleType

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def namespaces() -> list[str]:
    """``NAMESPACES`` of ``docs/_ext/ag_docs.py``, read without importing it (it needs Sphinx)."""
    tree = ast.parse((DOCS / "_ext" / "ag_docs.py").read_text(encoding="utf-8"))
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "NAMESPACES":
            return list(ast.literal_eval(node.value))
    raise AssertionError("docs/_ext/ag_docs.py has no NAMESPACES list")


@functools.cache
def listed_names() -> dict[str, str]:
    """Every ``module.name`` in an autosummary block of the reference pages → the page it is on."""
    listed: dict[str, str] = {}
    for page in sorted((DOCS / "reference").glob("*.rst")):
        module, in_summary = None, False
        for line in page.read_text(encoding="utf-8").splitlines():
            if m := re.match(r"\.\. currentmodule:: (\S+)", line):
                module, in_summary = m.group(1), False
            elif line.startswith(".. autosummary::"):
                in_summary = True
            elif in_summary and re.match(r"   [A-Za-z_]\w*$", line):
                assert module is not None, f"{page.name}: an autosummary before any currentmodule"
                listed[f"{module}.{line.strip()}"] = page.name
            elif in_summary and line and not line.startswith("   "):
                in_summary = False
    return listed


def public_names() -> list[str]:
    names = []
    for ns in namespaces():
        module = importlib.import_module(ns)
        names += [f"{ns}.{n}" for n in module.__all__ if not isinstance(getattr(module, n), ModuleType)]
    return names


def test_the_documented_namespaces_are_the_packages_and_their_public_submodules() -> None:
    assert {"autograd_core", "autograd_core.testing", "nn", "optim", "optim.search"} <= set(namespaces())


@pytest.mark.parametrize("name", public_names())
def test_every_public_name_is_in_the_reference(name: str) -> None:
    assert name in listed_names(), (
        f"{name} is public (in __all__) but not in the reference: add it to docs/reference/{name.rsplit('.', 1)[0]}.rst"
    )


def test_every_name_in_the_reference_exists() -> None:
    for full, page in listed_names().items():
        module, name = full.rsplit(".", 1)
        assert hasattr(importlib.import_module(module), name), f"docs/reference/{page} lists {full}, which is gone"


def test_the_reader_sees_a_missing_name() -> None:
    """The parser is not vacuous: it finds the names of a known page, and not a made-up one."""
    listed = listed_names()
    assert {"autograd_core.Tensor", "nn.Dense", "optim.Adam", "optim.search.random_search"} <= set(listed)
    assert "autograd_core.no_such_name" not in listed


# ============================================================== the README: short, its links alive, its commands CI's

ROOT = DOCS.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_what_a_person_reads_first() -> None:
    lines = README.splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines: move the detail into the documentation"
    assert "lecture" not in README.lower()


def test_the_readme_runs_the_same_test_command_as_ci() -> None:
    """.ci/run runs the README's test command unchanged: the two must stay the same text."""
    command = 'python3 -m venv .venv && .venv/bin/pip install -q -e ".[dev]" && .venv/bin/python -m pytest'
    assert f"```bash\n{command}\n```" in README
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert f"\n{command}\n" in ci


def test_every_link_of_the_readme_leads_somewhere() -> None:
    links = re.findall(r"\]\(([^)\s]+)\)", README)
    local = [link for link in links if not re.match(r"[a-z]+://", link)]
    assert len(local) >= 20 and any(link.startswith("docs/how-to/") for link in local)  # the parser finds them
    for link in local:
        path = ROOT / link.split("#", 1)[0]
        assert path.is_file(), f"README.md links to {link}, which does not exist"

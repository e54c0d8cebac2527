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

"""What the distribution declares: the version written once, the type-hint marker shipped."""

from __future__ import annotations

import importlib.metadata
import tomllib
from pathlib import Path

import autograd_core as ag

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_the_version_is_written_once_and_the_installed_metadata_agrees():
    assert "version" not in PROJECT["project"] and "version" in PROJECT["project"]["dynamic"]
    assert PROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "autograd_core.__version__"}
    assert importlib.metadata.version("autograd-core") == ag.__version__


def test_the_typed_marker_ships_with_autograd_core():
    assert (Path(ag.__file__).parent / "py.typed").is_file()
    assert "py.typed" in PROJECT["tool"]["setuptools"]["package-data"]["autograd_core"]
    assert any(req.startswith("mypy") for req in PROJECT["project"]["optional-dependencies"]["dev"])

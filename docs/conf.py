"""Sphinx configuration of the autograd_core documentation.

Build it (from the repository's root, with the ``docs`` extra installed)::

    sphinx-build -W -b html docs docs/_build/html

Warnings are errors: a tutorial or example that raises, a dead cross-reference or a public
name without a docstring (or missing from the reference) fails the build. The checks that
do this live in ``docs/_ext/ag_docs.py``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(ROOT))  # the packages, also when the docs are built without installing them

# The notebooks run in a Jupyter kernel started as "python -m ipykernel_launcher": make that
# "python" this interpreter (the venv's), whatever PATH the build was started with.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
# Tutorials and examples train small networks: one BLAS thread is faster for them on a busy
# machine (a thread count set by whoever runs the build wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import autograd_core  # noqa: E402

project = "autograd_core"
author = "the autograd_core authors"
copyright = "the autograd_core authors (MIT licence)"  # noqa: A001
release = autograd_core.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
    "myst_nb",  # MyST Markdown pages, and notebooks (MyST Markdown too) executed at build time
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sphinx_design",
    "ag_docs",  # our checks: every public name documented, references to internal paths resolved
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = [
    "_build",
    "testing.md",  # the README's old link: now a pointer to how-to/check_gradients
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "**.codeobj.json",
    "**/GALLERY_HEADER.rst",
]
templates_path = ["_templates"]
nitpicky = True  # every cross-reference must resolve (ag_docs.py renders other libraries' names as text)

# -- MyST and MyST-NB ------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "force"  # every build runs every tutorial, top to bottom
nb_execution_timeout = 300
nb_execution_raise_on_error = True  # a cell that raises fails the build...
nb_execution_show_tb = True  # ...and prints the traceback
nb_merge_streams = True
nb_output_stderr = "show"  # warnings a tutorial prints are shown, never hidden

# -- autodoc / autosummary / numpydoc --------------------------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autodoc_class_signature = "separated"  # the constructor's signature on __init__, as NumPy shows it
numpydoc_show_class_members = False  # autodoc lists the members, documented in full
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False  # parameter types are prose ("array_like, optional"), not references
numpydoc_validation_checks: set[str] = set()

# -- the gallery of examples/ ----------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r".*\.py$",  # run every example (the default runs only plot_*.py)
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "ag_docs.example_argv",  # where the examples write their files: the build
    "within_subsection_order": "ag_docs.example_order",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "capture_repr": (),
    "image_scrapers": ("ag_docs.file_scraper",),  # the figures each example saves
    "download_all_examples": False,
    "remove_config_comments": True,
    "show_memory": False,
    "show_signature": False,
    "min_reported_time": 1,
}

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"autograd_core {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = True
html_copy_source = True

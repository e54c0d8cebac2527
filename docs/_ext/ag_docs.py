"""The documentation's own checks and helpers (a small Sphinx extension).

- **Every public name is documented.** The public names are the ``__all__`` of each
  namespace in :data:`NAMESPACES`; each must be in the reference (under that name) and have
  a docstring, and so must every public method and property of a public class. Anything
  missing is a warning, so ``sphinx-build -W`` fails on it.
- **References to where a name is defined resolve to where it is documented.** Type
  annotations and docstrings name objects by their defining module
  (``autograd_core.tensor.Tensor``, ``nn.module.Module``); the reference documents them under
  their public name (``autograd_core.Tensor``, ``nn.Module``). A reference to an object that
  exists and is public is redirected there; to another library's object (NumPy, the standard
  library), it is rendered as plain text (no inventories are fetched: the build is offline);
  to something that does not exist, it stays a warning: a dead cross-reference.
- The gallery's helpers: the arguments each example runs with (its output folder in the
  build, never the source tree) and the gallery's order.
"""

from __future__ import annotations

import importlib
import inspect
import re
import shutil
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger("ag_docs")

#: The public namespaces, each with a reference page of its own (``docs/reference/<name>.rst``).
NAMESPACES = [
    "autograd_core",
    "autograd_core.testing",
    "autograd_core.testing.strategies",
    "autograd_core.onnx",
    "nn",
    "optim",
    "optim.search",
    "nn.init",
]
OURS = {"autograd_core", "nn", "optim"}
ALIASES = {"np": "numpy", "npt": "numpy.typing"}  # how the code names other libraries


def public_names() -> dict[str, Any]:
    """Every public name, ``"namespace.name"`` → the object (modules listed in ``__all__`` left out)."""
    names: dict[str, Any] = {}
    for ns in NAMESPACES:
        module = importlib.import_module(ns)
        for name in module.__all__:
            obj = getattr(module, name)
            if not isinstance(obj, ModuleType):
                names[f"{ns}.{name}"] = obj
    return names


def _public_by_id() -> dict[int, str]:
    by_id: dict[int, str] = {}
    for full, obj in public_names().items():
        by_id.setdefault(id(obj), full)
    return by_id


def _lookup(target: str) -> tuple[bool, Any]:
    """Import ``target`` (``package.module.Class.attribute``): (found, object)."""
    parts = target.split(".")
    parts[0] = ALIASES.get(parts[0], parts[0])
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        except Exception:  # an optional dependency missing, say: not ours to judge
            return True, None
        try:
            for attr in parts[i:]:
                obj = inspect.getattr_static(obj, attr) if isinstance(obj, type) else getattr(obj, attr)
        except AttributeError:
            return False, None
        return True, obj
    return False, None


def _candidates(node: Any) -> list[str]:
    """Where an unresolved reference's target may live, most specific first."""
    target = node["reftarget"].lstrip(".~")
    if "." in target:
        return [target]
    places = []
    module, cls = node.get("py:module"), node.get("py:class")
    if module and cls:
        places.append(f"{module}.{cls}")
    if module:
        places.append(module)
    match = re.search(r"docstring of ([\w.]+)", str(node.source or ""))
    if match:  # the docstring's own module and class, where it was written
        parts = match.group(1).split(".")
        places += [".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)]
    for name, mod in list(sys.modules.items()):  # last: anywhere in our code
        if name.split(".")[0] in OURS and mod is not None:
            places.append(name)
            places += [f"{name}.{k}" for k, v in vars(mod).items() if isinstance(v, type) and v.__module__ == name]
    return [f"{place}.{target}" for place in dict.fromkeys(places)] + [target]


def resolve_missing(app: Sphinx, env: Any, node: Any, contnode: nodes.Element) -> nodes.Element | None:
    """A reference Sphinx did not find: redirect it to the public name, render it as text
    (another library's name, or a helper of ours that is not public), or leave it to warn."""
    if node.get("refdomain") != "py":
        return None
    by_id = app.ag_public_by_id
    domain = env.get_domain("py")
    for candidate in _candidates(node):
        found, obj = _lookup(candidate)
        if not found:
            continue
        parts = candidate.split(".")
        for i in range(len(parts), 0, -1):  # the longest prefix that is a public name
            found_prefix, prefix_obj = _lookup(".".join(parts[:i]))
            public = by_id.get(id(prefix_obj)) if found_prefix and prefix_obj is not None else None
            if public:
                new = ".".join([public, *parts[i:]])
                ref = domain.resolve_xref(env, node["refdoc"], app.builder, "obj", new, node, contnode)
                if ref is not None:
                    return ref
                break
        return contnode  # it exists, but is documented nowhere here: plain text
    return None  # nothing of that name exists: a dead reference, and Sphinx warns


def skip_member(app: Sphinx, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    """Warn about a public method or property of a documented class that has no docstring;
    skip members other libraries add to our classes (scikit-learn's ``set_*_request``)."""
    if what != "class" or name.startswith("_"):
        return None
    func = obj.fget if isinstance(obj, property) else obj
    module = getattr(func, "__module__", "") or ""
    if callable(func) and module and module.split(".")[0] not in OURS:
        return True
    if skip and (inspect.isfunction(func) or isinstance(obj, property)) and module.split(".")[0] in OURS:
        if not inspect.getdoc(func):
            _warn_once(app, f"undocumented public name: {module}.{getattr(func, '__qualname__', name)}")
    return None


def _warn_once(app: Sphinx, message: str) -> None:
    if message not in app.ag_warned:
        app.ag_warned.add(message)
        logger.warning(message)


def process_docstring(app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]) -> None:
    """Warn about a public name whose docstring is empty."""
    if not any(line.strip() for line in lines) and name in app.ag_public_names and what != "module":
        if what in ("data", "attribute"):
            return  # a constant: its value is its documentation
        _warn_once(app, f"undocumented public name: {name} has no docstring")


def check_coverage(app: Sphinx, env: Any) -> None:
    """Every public name is in the reference, under its public name."""
    documented = set(env.get_domain("py").objects)
    for full in app.ag_public_names:
        if full not in documented:
            ns = full.rsplit(".", 1)[0]
            logger.warning(f"public name missing from the reference: {full} (add it to docs/reference/{ns}.rst)")


def _example_folder(src_file: str) -> Path:
    """Where one example writes its files during the build: a temporary folder of its own."""
    return Path(tempfile.gettempdir()) / "autograd_core-docs-examples" / Path(src_file).stem


def example_argv(gallery_conf: dict[str, Any], script_vars: dict[str, Any]) -> list[str]:
    """The command-line arguments of each example in the gallery: its output folder (emptied),
    never the source tree."""
    folder = _example_folder(script_vars["src_file"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    name = Path(script_vars["src_file"]).name
    if name in ("digits.py", "babysit.py", "draw_walkthrough.py"):
        return [str(folder)]
    if name == "hyperparameter_search.py":
        return ["--out", str(folder), "--trials", "12,6,6"]  # a short search: the build stays quick
    if name == "char_lm.py":
        return [str(folder), "--steps", "20", "--epochs", "2"]  # seconds; the full run takes minutes
    return []


def file_scraper(block: Any, block_vars: dict[str, Any], gallery_conf: dict[str, Any]) -> str:
    """The pictures an example wrote (PNG, SVG), shown below it in the order they were written; the
    first is its thumbnail. The examples save their figures to files, so this is what a reader
    running one gets."""
    from sphinx_gallery.scrapers import figure_rst

    folder = _example_folder(block_vars["src_file"])
    images = sorted((p for p in folder.glob("*") if p.suffix in (".png", ".svg")), key=lambda p: p.stat().st_mtime)
    shown = []
    for image, slot in zip(images, block_vars["image_path_iterator"]):
        target = Path(slot).with_suffix(image.suffix)
        shutil.copyfile(image, target)
        shown.append(str(target))
    return figure_rst(shown, gallery_conf["src_dir"])


#: The gallery's order: as a course goes, from the walkthrough to deployment.
EXAMPLE_ORDER = [
    "walkthrough.py",
    "draw_walkthrough.py",
    "optimizers.py",
    "digits.py",
    "cnn_digits.py",
    "sequence_digits.py",
    "char_lm.py",
    "babysit.py",
    "hyperparameter_search.py",
    "export_onnx.py",
]


class ExampleOrder:
    """Sort key of the gallery (sphinx-gallery asks for a class taking the source folder)."""

    def __init__(self, src_dir: str) -> None:
        self.src_dir = src_dir

    def __call__(self, filename: str) -> tuple[int, str]:
        return (EXAMPLE_ORDER.index(filename) if filename in EXAMPLE_ORDER else len(EXAMPLE_ORDER), filename)

    def __repr__(self) -> str:
        return "ExampleOrder"


example_order = ExampleOrder


def builder_inited(app: Sphinx) -> None:
    app.ag_public_names = public_names()
    app.ag_public_by_id = _public_by_id()
    app.ag_warned = set()


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("builder-inited", builder_inited)
    app.connect("missing-reference", resolve_missing)
    app.connect("autodoc-skip-member", skip_member)
    app.connect("autodoc-process-docstring", process_docstring, priority=100)  # before numpydoc adds lines
    app.connect("env-check-consistency", check_coverage)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}

"""Every public function of tfimpl/ and reference/ is compared with the other side by some test.

A function is compared when a catalog Concept holds it (test_catalog.py runs each concept's tf and
ref, and their vjps, against each other in every dtype and mode), or when a named test in
tests/test_*.py names it and at least one function of the other side's module of the same name:
in its own body, through the module-level helpers and fixtures it uses, or in the program of a
child process it runs (tests/mentions.py, with code_strings). A tfimpl function that only
TensorFlow-against-TensorFlow tests call is not compared. The names no test can compare are
listed with their reason (NOT_COMPARED); test_api.py's one-sided names and TF-only modules have no
twin to compare with (test_api.py says why for each).
Source only: nothing is run, about 1 s."""
import ast
import functools
import importlib
import inspect
from pathlib import Path

import pytest

from tests import mentions
from tests.catalog import CATALOG
from tests.contract import MODULES, ONE_SIDED, SIDES, TF_ONLY_MODULES
from tests.grader import contract, public

ROOT = Path(__file__).resolve().parents[1]
OTHER = {"reference": "tfimpl", "tfimpl": "reference"}

NOT_COMPARED = {}
"""(side, module, name) -> why no test compares it with the other side. Empty: every one is."""


def functions(side, module):
    """The module's public functions on one side (the grader's contract: no classes or tables)."""
    return sorted(name for name, sides in contract(module).items() if sides[side] is not None)


@functools.cache
def catalog_functions():
    """(side, module, name) of every function a catalog Concept holds. A wrapper of the catalog's own
    (mlp_forward's flat-argument form, convert_image_dtype's round trip) stands for the functions it
    calls: those its closure holds and those it takes from a reference or tfimpl module."""
    out = set()
    for c in CATALOG:
        for fn in (c.ref, c.tf, c.ref_vjp, c.tf_vjp):
            if fn is None:
                continue
            found = inspect.getclosurevars(fn)
            called = [f for f in found.nonlocals.values() if callable(f)]
            called += [getattr(m, n) for m in found.globals.values() if inspect.ismodule(m)
                       for n in fn.__code__.co_names if n in public(m)]
            for f in [fn] + called:
                side, _, module = (getattr(f, "__module__", None) or "").partition(".")  # NumPy 1.x ufuncs have none
                if side in OTHER and f.__name__ in public(importlib.import_module(f.__module__)):
                    out.add((side, module, f.__name__))
    return out


@functools.cache
def compared_by_named_tests(files):
    """(side, module, name) -> the named tests that name it and a function of the other side's
    module of the same name. ``files``: (path, shown as) pairs."""
    out = {}
    for path, rel in files:
        for fact in mentions.named_facts(path, rel, code_strings=True):
            for (module, name), m in fact.mentions.items():
                for side in m["sides"]:
                    other = OTHER[side]
                    if any(k[0] == module and other in v["sides"] for k, v in fact.mentions.items()):
                        out.setdefault((side, module, name), []).append(fact.test)
    return out


def named_test_files():
    return tuple((p, p.relative_to(ROOT).as_posix()) for p in sorted((ROOT / "tests").glob("test_*.py")))


def uncompared(files):
    by_catalog, by_tests = catalog_functions(), compared_by_named_tests(files)
    missing = []
    for module in MODULES:
        if module in TF_ONLY_MODULES:
            continue
        for side in OTHER:
            if module not in SIDES[side]:
                continue
            for name in functions(side, module):
                key = (side, module, name)
                if (module, name) in ONE_SIDED:
                    continue  # no twin: test_api.py says why
                if key not in by_catalog and key not in by_tests and key not in NOT_COMPARED:
                    missing.append(".".join(key))
    return missing


def test_every_public_function_is_compared_with_the_other_side():
    missing = uncompared(named_test_files())
    assert not missing, (f"{len(missing)} public functions no test compares with the other side (name it and a "
                         f"function of the other side's module in one test, or a catalog Concept): {missing}")


def test_the_not_compared_list_holds_only_names_that_exist_and_no_test_compares():
    by_tests, by_catalog = compared_by_named_tests(named_test_files()), catalog_functions()
    for key, why in NOT_COMPARED.items():
        assert key[2] in functions(key[0], key[1]), f"{key}: no such public function"
        assert key not in by_tests and key not in by_catalog, f"{key} is compared now: take it off the list"
        assert why, key


@pytest.mark.planted
@pytest.mark.parametrize("file,test,name", [
    ("test_image.py", "test_distort_color_takes_the_reference_steps_within_the_carried_roundings",
     "tfimpl.image.distort_color"),
    ("test_parallel.py", "MIRRORED", "tfimpl.parallel.keras_fit_step"),
])
def test_a_test_taken_away_leaves_its_function_uncompared(tmp_path, file, test, name):
    """Planted: what alone compares a function, removed from a copy of its file (a named test; for
    test_parallel.py, the MirroredStrategy child's program, a string the fixtures run): the check
    names the function."""
    source = (ROOT / "tests" / file).read_text()
    tree = ast.parse(source)
    tree.body = [n for n in tree.body if getattr(n, "name", None) != test
                 and not (isinstance(n, ast.Assign) and any(getattr(t, "id", None) == test for t in n.targets))]
    assert len(tree.body) < len(ast.parse(source).body), f"{test} not found in {file}"
    copy = tmp_path / file
    copy.write_text(ast.unparse(tree))
    files = tuple((copy, f"tests/{file}") if rel == f"tests/{file}" else (p, rel) for p, rel in named_test_files())
    assert name in uncompared(files)
    assert name not in uncompared(named_test_files())

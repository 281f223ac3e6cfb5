"""One API on both sides: every module pair reference.M / tfimpl.M offers the same public names
with the same signatures, and every catalog concept accepts the same kinds of argument on both
sides (Python scalars and lists, NumPy scalars, 0-d and n-d arrays, and tf.Tensor on the TF side).

What a reader learns from one column must hold in the other: a call copied from reference/ into
tfimpl/ (or back) runs, binds its arguments to the same parameters, and gives the same number."""
import ast
import importlib
import inspect
import numbers
import pathlib

import numpy as np
import pytest
import tensorflow as tf

import tfimpl
from tests import harness
from tests.catalog import BY_NAME, CATALOG
from tests.catalog.concept import Sample, call_text
from tests.contract import MODULES, ONE_SIDED, SIDES, TF_ONLY_MODULES
from tests.grader import public  # the contract's names: the grader matches a learner's functions by them

def pair(name):
    return importlib.import_module(f"reference.{name}"), importlib.import_module(f"tfimpl.{name}")


@pytest.mark.parametrize("module", MODULES)
def test_every_module_exists_on_both_sides_with_the_same_public_names(module):
    if module in TF_ONLY_MODULES:
        assert module in SIDES["tfimpl"] and module not in SIDES["reference"], (
            f"TF_ONLY_MODULES lists {module}, but reference/{module}.py exists or tfimpl/{module}.py does not")
        return
    assert all(module in names for names in SIDES.values()), f"{module} exists on one side only: {SIDES}"
    ref, impl = pair(module)
    listed = {n for m, n in ONE_SIDED if m == module}
    only_ref, only_tf = public(ref) - public(impl), public(impl) - public(ref)
    assert not (only_ref - listed), (f"reference.{module} has {sorted(only_ref - listed)} that tfimpl.{module} lacks: "
                                     "add them to tfimpl, or to ONE_SIDED with the reason")
    assert not (only_tf - listed), (f"tfimpl.{module} has {sorted(only_tf - listed)} that reference.{module} lacks: "
                                    "add them to reference, or to ONE_SIDED with the reason")
    stale = listed - only_ref - only_tf
    assert not stale, f"ONE_SIDED lists {sorted(stale)} for {module}, but they now exist on both sides (or neither)"


PAIRS = [pytest.param(m, n, id=f"{m}.{n}") for m in sorted(SIDES["reference"] & SIDES["tfimpl"])
         for n in sorted(public(pair(m)[0]) & public(pair(m)[1]))]


@pytest.mark.parametrize("module,name", PAIRS)
def test_each_pair_has_the_same_signature(module, name):
    """inspect.signature of reference.M.f and tfimpl.M.f are equal: names, order, kinds and defaults.
    Module-level tables (ACTIVATIONS) have the same keys."""
    ref, impl = (getattr(m, name) for m in pair(module))
    if not callable(ref):
        assert isinstance(ref, dict) and isinstance(impl, dict), (module, name, type(ref), type(impl))
        assert list(ref) == list(impl), f"{module}.{name}: keys {list(ref)} vs {list(impl)}"
        return
    assert callable(impl), f"tfimpl.{module}.{name} is not callable"
    rs, ts = inspect.signature(ref), inspect.signature(impl)
    assert rs == ts, f"{module}.{name}: reference{rs} vs tfimpl{ts}"


# --- (b'') tfimpl computes its own behaviour ----------------------------------------------

SHARED_FROM_REFERENCE = {("reference._checks", "MESSAGES"): "the message templates",
                         ("reference._checks", "message"): "fills a template, nothing else"}
"""The names tfimpl/ may take from reference/ besides plain constants: message texts."""


def reference_imports(source):
    """(line, module, name) for each name ``source`` takes from reference/: ``from reference.m import n``
    gives (reference.m, n); ``import reference.m`` and ``from reference import m`` give a module."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "reference":
                    yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "reference":
            for alias in node.names:
                yield node.lineno, node.module, alias.name


def _plain(value):
    """A constant all the way down: str, bytes, numbers, None, and tuples, lists, sets and dicts of them."""
    if value is None or isinstance(value, (str, bytes, numbers.Number)):
        return True
    if isinstance(value, dict):
        return all(_plain(k) and _plain(v) for k, v in value.items())
    if isinstance(value, (tuple, list, set, frozenset)):
        return all(_plain(v) for v in value)
    return False


def leak(module, name):
    """Why taking ``name`` from reference ``module`` shares behaviour; None for a message text or a
    plain public constant."""
    if name is None:
        return "a whole reference module: its functions come with it"
    if (module, name) in SHARED_FROM_REFERENCE:
        return None
    if name == "*":
        return "a star import"
    if name.startswith("_"):
        return "a private name"
    value = getattr(importlib.import_module(module), name)
    if inspect.ismodule(value):
        return "a module: its functions come with it"
    if callable(value):
        return "callable: behaviour"
    if not _plain(value):
        return f"a {type(value).__name__} holding more than plain values (functions, objects)"
    return None


def leaks(source):
    return [f"line {line}: {module}{'.' + name if name else ''} is {why}"
            for line, module, name in reference_imports(source) if (why := leak(module, name))]


TFIMPL_FILES = sorted(pathlib.Path(tfimpl.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("path", TFIMPL_FILES, ids=lambda p: p.name)
def test_tfimpl_takes_only_message_texts_and_plain_constants_from_reference(path):
    """A test comparing the two sides compares two computations only if tfimpl/ computes its own: it
    may take from reference/ MESSAGES and message (texts) and public names bound to plain values
    (str, numbers, tuples and dicts of them: GRAY_WEIGHTS), never a function, a class, a module, a
    private name or a table of functions."""
    found = leaks(path.read_text())
    assert not found, f"tfimpl/{path.name} takes behaviour from reference/:\n  " + "\n  ".join(found)


def test_the_leak_check_flags_each_kind_of_leak():
    """The check itself, on planted imports: each leak found, each allowed name let through."""
    planted = {
        "from reference.tfrecord import _feature_kind": "a private name",
        "from reference._checks import one_of": "callable: behaviour",
        "from reference.nn import ACTIVATIONS": "a dict holding more than plain values",
        "from reference import losses": "a module",
        "import reference.image as RI": "a whole reference module",
        "from reference.image import *": "a star import",
    }
    for source, why in planted.items():
        found = leaks(source)
        assert len(found) == 1 and why in found[0], f"{source!r}: {found}"
    assert leaks("from reference._checks import MESSAGES, message\n"
                 "from reference.image import DISTORTION_RANGES, GRAY_WEIGHTS") == []


# --- (b') a reference class beside the TF class tfimpl re-exports -------------------------

def _methods(cls):
    """The public methods a class defines itself (not inherited)."""
    return [n for n in vars(cls) if not n.startswith("_") and callable(getattr(cls, n))]


def _reexported_classes():
    """(module, name) of each public class with methods of a reference module whose tfimpl twin
    re-exports a TF class under the same name (reference.data.Dataset beside
    tfimpl.data.Dataset = tf.data.Dataset)."""
    out = []
    for m in sorted(SIDES["reference"] & SIDES["tfimpl"]):
        ref, impl = pair(m)
        for name in sorted(public(ref)):
            ours, theirs = getattr(ref, name), getattr(impl, name, None)
            if inspect.isclass(ours) and _methods(ours) and inspect.isclass(theirs) and name not in public(impl):
                out.append(pytest.param(m, name, id=f"{m}.{name}"))
    return out


@pytest.mark.parametrize("module,name", _reexported_classes())
def test_a_reference_class_mirrors_the_tf_class_tfimpl_reexports(module, name):
    """Each public method of the reference class exists on the TF class, and its parameters are the
    TF method's leading parameters (names, order, kinds, defaults); the TF method's further parameters
    (num_parallel_calls=None, name=None, ...) are optional. So a chain written against one class
    runs on the other and binds its arguments to the same parameters."""
    ref, impl = (getattr(m, name) for m in pair(module))
    for method in _methods(ref):
        assert hasattr(impl, method), f"reference.{module}.{name}.{method} has no twin on {impl.__name__}"
        rs = list(inspect.signature(getattr(ref, method)).parameters.values())
        ts = list(inspect.signature(getattr(impl, method)).parameters.values())
        assert ts[:len(rs)] == rs, (f"{module}.{name}.{method}: reference({', '.join(map(str, rs))}) is not "
                                    f"the start of tf({', '.join(map(str, ts))})")
        rest = [p for p in ts[len(rs):] if p.default is p.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        assert not rest, f"{module}.{name}.{method}: TF's further parameters {rest} are required"


# --- (c) the same argument kinds on both sides -----------------------------------------

def first_full_edge(concept):
    """The concept's first edge Sample whose arrays are all non-empty."""
    return next(s for s in concept.edges if all(np.size(a) > 0 for a in s.args if isinstance(a, np.ndarray)))


def _role(value):
    """nd: an array of rank >= 1; 0d: a 0-d array; number: a Python int or float (not bool);
    None for anything else (strings, booleans, None), which no kind changes."""
    if isinstance(value, np.ndarray):
        return "nd" if value.ndim else "0d"
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return "number"
    return None


def _is_float(value):
    return np.asarray(value).dtype.kind == "f"


def _first(a):
    """The first element of an array, as a 0-d array of its dtype."""
    return np.asarray(a.flat[0]) if a.ndim else a


def _float32(a):
    return a.astype(np.float32) if _is_float(a) else a


def _np_number(v):
    return np.float64(v) if isinstance(v, float) else np.int64(v)


# kind -> {role: value -> (reference side, TF side, canonical)}, applied to every position of that
# role at once. The canonical value is what the judgement rounds to TF's dtype and feeds to the
# reference and to the error model: an array at array positions, a Python number at number positions.
KINDS = {
    "ndarray": {},
    "list": {"nd": lambda a: (a.tolist(), a.tolist(), a)},
    "tf.Tensor": {"nd": lambda a: (a, tf.constant(a), a), "0d": lambda a: (a, tf.constant(a), a)},
    "numpy-scalar": {"nd": lambda a: (_first(a)[()], _first(a)[()], _first(a)),
                     "0d": lambda a: (a[()], a[()], a),
                     "number": lambda v: (_np_number(v), _np_number(v), v)},
    "0-d-array": {"nd": lambda a: (_first(a), _first(a), _first(a)),
                  "number": lambda v: (np.asarray(v), np.asarray(v), v)},
    "python-float": {"nd": lambda a: (_first(a).item(),) * 2 + (_first(a),) if _is_float(a) else (a, a, a),
                     "0d": lambda a: (a.item(), a.item(), a) if _is_float(a) else (a, a, a)},
    "python-int": {"nd": lambda a: (int(np.rint(_first(a))),) * 2 + (np.asarray(int(np.rint(_first(a)))),),
                   "0d": lambda a: (int(np.rint(a)),) * 2 + (np.asarray(int(np.rint(a))),),
                   "number": lambda v: (int(round(v)),) * 3 if isinstance(v, float) else (v, v, v)},
    # float32 arrays beside NumPy float64 parameters: the arrays' dtype must win on both sides
    "float32-arrays-float64-scalars": {"nd": lambda a: (_float32(a),) * 3, "0d": lambda a: (_float32(a),) * 3,
                                       "number": lambda v: (_np_number(v), _np_number(v), v)},
}


def variant(sample, kind):
    """(reference args, kwargs, TF args, kwargs, canonical Sample) of ``sample`` in ``kind``, or None
    when the kind changes nothing in it."""
    rules = KINDS[kind]
    changed = kind == "ndarray"

    def convert(v):
        nonlocal changed
        rule = rules.get(_role(v))
        if rule is None:
            return v, v, v
        out = rule(v)
        changed = changed or any(o is not v for o in out[:2])
        return out
    args = [convert(a) for a in sample.args]
    kwargs = {k: convert(v) for k, v in sample.kwargs.items()}
    if not changed:
        return None
    return ([a[0] for a in args], {k: v[0] for k, v in kwargs.items()},
            [a[1] for a in args], {k: v[1] for k, v in kwargs.items()},
            Sample(tuple(a[2] for a in args), {k: v[2] for k, v in kwargs.items()}, sample.id))


CASES = [pytest.param(c.name, kind, id=f"{c.name}-{kind}") for c in CATALOG for kind in KINDS
         if variant(first_full_edge(c), kind) is not None]


def _typed_float(value):
    """A value that carries a floating dtype of its own (a NumPy array or scalar, a tensor)."""
    if tf.is_tensor(value):
        return value.dtype.is_floating
    return isinstance(value, (np.ndarray, np.generic)) and _is_float(value)


def _call(fn, args, kwargs):
    try:
        return fn(*args, **kwargs), None
    except Exception as e:  # noqa: BLE001 - the exception is the outcome compared
        return None, e


@pytest.mark.parametrize("concept,kind", CASES)
def test_both_sides_accept_the_same_argument_kinds_and_agree(concept, kind):
    """On the concept's first non-empty edge, with every argument of one role turned into ``kind``:
    either both sides raise the same exception type, or both return and TF is within the catalog's
    tolerance for the dtype TF computed in (``concept.tol``, each with its reason) of the float64
    reference on the inputs rounded to that dtype. That dtype is the reference's (the first floating
    array's) when any floating argument carries a dtype; TF's default, float32, when none does
    (Python floats and lists: NumPy would pick float64, TF picks float32)."""
    concept = BY_NAME[concept]
    ref_args, ref_kwargs, tf_args, tf_kwargs, canonical = variant(first_full_edge(concept), kind)
    call = call_text(f"{concept.tf.__module__}.{concept.tf.__name__}", tuple(tf_args), tf_kwargs)
    expected, ref_error = _call(concept.ref, ref_args, ref_kwargs)
    actual, tf_error = _call(concept.tf, tf_args, tf_kwargs)
    if ref_error or tf_error:
        assert type(ref_error) is type(tf_error), (
            f"{concept.name} [{kind}]: the reference {'raised ' + repr(ref_error) if ref_error else 'returned'}, "
            f"TF {'raised ' + repr(tf_error) if tf_error else 'returned'}\n  {call}")
        return
    actual = tf.nest.map_structure(lambda t: np.asarray(t), actual)
    leaves = [np.asarray(a) for a in tf.nest.flatten(actual)]
    floating = [a.dtype.name for a in leaves if a.dtype.kind == "f" or a.dtype.name == "bfloat16"]
    if not floating:  # integer outputs: exact
        for a, e in zip(leaves, tf.nest.flatten(expected)):
            np.testing.assert_array_equal(a, e, err_msg=f"{concept.name} [{kind}]\n  {call}")
        return
    dtype = floating[0]
    typed = any(_typed_float(v) for v in list(tf_args) + list(tf_kwargs.values()))
    want = np.asarray(tf.nest.flatten(expected)[0]).dtype.name if typed else "float32"
    assert dtype == want, f"{concept.name} [{kind}]: TF returned {dtype}, expected {want}\n  {call}"
    rounded = harness.cast(canonical, dtype)
    harness.assert_agree(actual, harness.reference(concept.ref, rounded), dtype, concept.tol[dtype],
                   f"{concept.name} [{kind}, eager]\n  reproduce: {call}", sample=rounded)

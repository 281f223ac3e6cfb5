"""The grader: a learner's own functions run through tfref's checks in place of tfimpl's.

    pytest --against=PATH          (conftest.py's option; this module is the machinery, free of pytest)

PATH is a folder of modules named like the pairs (``activations.py``, ``losses.py``, ...) or one
``.py`` file. Every function there with a contract name (a public name of ``tfimpl/<module>.py`` or
``reference/<module>.py``, with the same signature) is graded as the implementation under test:

- load(): imports each file under a private name (``tfref_against.<stem>``), never touching tfimpl's
  or reference's modules, and stops with one line (LoadError) for a path that does not exist, a file
  that does not import, a wrong signature, a module with none of the contract names, or a file
  whose import changes tfref. It tells TensorFlow code (the file imports tensorflow, keras or tfimpl)
  from NumPy code (it does not), and a stub that still raises NotImplementedError (not attempted)
  from an attempt.
- plan(): which catalog entries and which named tests grade each attempted function. A catalog
  entry whose TensorFlow side reaches an attempted function (directly, or through a catalog adapter
  such as mlp_forward's flat form) gets a copy with that function swapped in (rebind: the same code
  with the learner's function in its closure and globals), and its gradient is the learner's own
  ``*_vjp`` if given, else tfimpl's ``*_vjp`` rebound to differentiate the learner's function
  (TensorFlow code; NumPy code without a ``*_vjp`` has its gradients "not attempted"). A named test
  grades a function when its source mentions it (tests/mentions.py): tfimpl's for TensorFlow code,
  the reference's for NumPy code (a NumPy solution stands in the reference's place).
- substitute(): for the session only, the catalog's BY_NAME entries and, in each selected test
  module, its names for tfimpl's (or reference's) modules and functions point at copies holding the
  learner's functions; everything is put back at the end. tfimpl's own modules are never changed,
  so tfimpl's other functions keep calling tfimpl's: a learner's softmax is graded by the tests
  that call softmax, not through tfimpl's log_softmax.
- Grade: the results per function x check (values, gradients, edges, bad input) x dtype x mode, the
  named tests, the first failing case and the hints (tests/hints.py), as text, Markdown and JSON.

NumPy solutions run eagerly only: their other modes are "not applicable (NumPy code cannot be
traced)". Every call of a learner's function runs under a time limit (SIGALRM in the main thread):
Python that hangs, eagerly or while tf.function, XLA or a Session graph traces it, is stopped and
the case fails naming the time. A loop TensorFlow itself runs (tf.while_loop, a `while` on a tensor
AutoGraph converts) cannot be interrupted from Python; the conftest's per-test backstop ends the
worker instead (a crash, which pytest-xdist reports as the case's failure).
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import json
import re
import signal
import sys
import threading
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

import tensorflow as tf

from tests import harness, mentions
from tests.contract import MODULES, SIDES
from tests import hints as hint_table
from tests.catalog import BY_NAME, CATALOG
from tests.catalog.concept import MODES, call_text
from tests.precision import DTYPES

ROOT = Path(__file__).resolve().parents[1]
PRIVATE = "tfref_against"
"""Learner modules are imported as tfref_against.<stem>: never under tfimpl's or reference's names."""
DEFAULT_TIME_LIMIT = 30.0
"""Seconds one call of a learner's function may take (eagerly, or while a mode traces it)."""
CHECKS = ("values", "gradients", "edges", "bad input")
NOT_APPLICABLE = "not applicable (NumPy code cannot be traced)"
TF_IMPORTS = ("tensorflow", "keras", "tfimpl")
"""A file importing any of these is TensorFlow code; any other file is NumPy code."""

CATALOG_TESTS = {
    "test_agreement": "values",
    "test_deterministic": "values",
    "test_edge_cases": "edges",
    "test_gradient_matches_reference": "gradients",
    "test_gradient_matches_finite_differences": "gradients",
    "test_rejects_bad_input": "bad input",
}
"""The generic tests of tests/test_catalog.py -> the check each grades (another test there counts as values)."""
CATALOG_FILE = "tests/test_catalog.py"
MACHINERY = ("test_catalog", "test_harness", "test_api", "test_layout", "test_docs", "test_sidebyside",
             "test_bench_flags", "test_grader")
"""Test files that are not named facts about a function: the generic matrix (graded through the
catalog), the checks of the checking machinery itself, the layout and the docs."""


class LoadError(Exception):
    """A solution that cannot be graded: the message is one line naming the file and the problem."""


class TimeLimit(BaseException):
    """A learner's call that ran past the time limit. A BaseException, so that neither the learner's
    own ``except Exception`` nor hypothesis (which shrinks Exceptions only) retries it: the case
    fails at once."""


# --- the contract: public names of each module pair ----------------------------------------------

def public(module):
    """The module's own public names: not starting with _, defined there (a function or class whose
    __module__ is the module, or a module-level value such as a dict); imported modules and
    helpers imported from elsewhere (np, tf, in_float64, vjp) are not part of its API."""
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or inspect.ismodule(value):
            continue
        if callable(value) and getattr(value, "__module__", module.__name__) != module.__name__:
            continue
        names.add(name)
    return names


def _side(side, module):
    return importlib.import_module(f"{side}.{module}") if module in SIDES[side] else None


@functools.lru_cache(maxsize=None)
def contract(module):
    """name -> {"tfimpl": function or None, "reference": function or None}: the functions (not
    classes or tables) a learner's ``<module>.py`` may define, each with its signature."""
    out = {}
    for side in ("tfimpl", "reference"):
        mod = _side(side, module)
        if mod is None:
            continue
        for name in public(mod):
            value = getattr(mod, name)
            if callable(value) and not inspect.isclass(value):
                out.setdefault(name, {"tfimpl": None, "reference": None})[side] = value
    return out


def contract_signature(module, name):
    sides = contract(module)[name]
    return inspect.signature(sides["tfimpl"] or sides["reference"])


def base_name(name):
    return name[:-len("_vjp")] if name.endswith("_vjp") else name


def _same_signature(a, b):
    def key(sig):
        return [(p.name, p.kind, repr(p.default)) for p in sig.parameters.values()]
    return key(a) == key(b)


# --- loading a solution ---------------------------------------------------------------------------

@dataclass
class Unit:
    """One concept function of the solution: ``name`` in ``module`` (its ``*_vjp`` folded in)."""
    module: str
    name: str
    file: str
    kind: str
    """"tf" or "numpy"."""
    fn: object = None
    """The learner's function, under the time limit; None if only its *_vjp is written."""
    vjp: object = None
    """The learner's own *_vjp, under the time limit, or None."""
    attempted: bool = True

    @property
    def key(self):
        return f"{self.module}.{self.name}"

    @property
    def kind_text(self):
        return "TensorFlow" if self.kind == "tf" else "NumPy"


@dataclass
class Solution:
    path: str
    units: dict = field(default_factory=dict)
    """"module.name" -> Unit, attempted or not, in file order."""
    files: dict = field(default_factory=dict)
    """learner file -> (module it grades, kind)."""
    helpers: list = field(default_factory=list)
    """Files with no contract name, imported but not graded."""

    @property
    def attempted(self):
        return {k: u for k, u in self.units.items() if u.attempted}

    def not_written(self):
        """The contract's functions of the modules this solution writes that it does not define
        (gradients aside): they keep tfimpl's, and their tests are not run."""
        modules = sorted({u.module for u in self.units.values()})
        return [f"{m}.{n}" for m in modules for n in sorted(contract(m))
                if not n.endswith("_vjp") and f"{m}.{n}" not in self.units]


def load(path, time_limit=DEFAULT_TIME_LIMIT, root=None):
    """The solution at ``path`` (a folder of modules or one .py file), imported and matched to the
    contract. Raises LoadError with one line naming the file and the problem."""
    p = Path(path)
    shown = str(path)
    if not p.exists():
        raise LoadError(f"--against {shown}: no such file or folder")
    if p.is_file():
        if p.suffix != ".py":
            raise LoadError(f"--against {shown}: not a .py file or a folder of them")
        files = [p]
    else:
        files = sorted(f for f in p.glob("*.py") if not f.name.startswith("_"))
        if not files:
            raise LoadError(f"--against {shown}: the folder holds no .py file (expected modules named like "
                            f"the pairs: {', '.join(m + '.py' for m in MODULES[:4])}, ...)")
    solution = Solution(shown)
    folder = str((p if p.is_dir() else p.parent).resolve())
    if folder not in sys.path:
        sys.path.append(folder)  # a learner's module may import its own helpers; appended, so it shadows nothing
    before = _tfref_state()
    for f in files:
        try:
            module = _import(f, _shown(f, p, shown))
        except LoadError:
            _changes(before)  # what the file changed before it failed is put back too
            raise
        changed = _changes(before)
        if changed:
            raise LoadError(f"--against {_shown(f, p, shown)}: importing it changes tfref ({changed}); "
                            f"the grader substitutes your functions itself, for the run only")
        _match(solution, f, _shown(f, p, shown), module, time_limit)
    return solution


def _shown(f, p, shown):
    return shown if p.is_file() else f"{shown.rstrip('/')}/{f.name}"


def _import(f, shown):
    name = f"{PRIVATE}.{f.stem}"
    if PRIVATE not in sys.modules:
        package = types.ModuleType(PRIVATE, "The learner's modules under grading (tests/grader.py).")
        package.__path__ = []
        sys.modules[PRIVATE] = package
    sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, f)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # inspect and AutoGraph find a function's module here
    try:
        spec.loader.exec_module(module)
    except SyntaxError as e:
        raise LoadError(f"--against {shown}: does not import: SyntaxError: {e.msg} (line {e.lineno})") from None
    except BaseException as e:  # noqa: BLE001 - whatever the file raises, the run stops with one line
        line = next((fr.lineno for fr in reversed(traceback.extract_tb(e.__traceback__))
                     if Path(fr.filename).resolve() == f.resolve()), None)
        where = f" (line {line})" if line else ""
        text = str(e).splitlines()[0] if str(e) else ""
        raise LoadError(f"--against {shown}: does not import: {type(e).__name__}: {text}{where}") from None
    return module


def _tfref_state():
    """Every value in tfimpl's and reference's modules: importing a solution must not change them."""
    return {name: dict(vars(mod)) for name, mod in list(sys.modules.items())
            if name.split(".")[0] in ("tfimpl", "reference") and mod is not None}


def _changes(before):
    """What an import changed in tfimpl's or reference's modules ("" for nothing), put back as it was."""
    found = []
    for name, values in _tfref_state().items():
        old = before.get(name)
        if old is None:
            continue
        for k, v in values.items():
            if k in old and old[k] is not v and not k.startswith("__"):
                found.append(f"{name}.{k} was replaced")
                vars(sys.modules[name])[k] = old[k]
    return ", ".join(found)


def _kind(tree):
    for node in ast.walk(tree):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level else [])
        if any(n.split(".")[0] in TF_IMPORTS for n in names):
            return "tf"
    return "numpy"


def _stubs(tree):
    """Names of the top-level functions that are still stubs: no return anywhere, and a raise of
    NotImplementedError in their own body."""
    out = set()
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        returns = any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(node))
        raises = any(isinstance(n, ast.Raise) and n.exc is not None and "NotImplementedError" in ast.unparse(n.exc)
                     for n in node.body)
        if raises and not returns:
            out.add(node.name)
    return out


def _match(solution, f, shown, module, time_limit):
    tree = ast.parse(f.read_text())
    kind, stubs = _kind(tree), _stubs(tree)
    own = {n: v for n, v in vars(module).items()
           if not n.startswith("_") and isinstance(v, types.FunctionType) and v.__module__ == module.__name__}
    if f.stem in MODULES:
        targets = {f.stem: contract(f.stem)}
    else:
        targets = {m: contract(m) for m in MODULES}
    found = {}
    for name, fn in own.items():
        hits = [m for m, names in targets.items() if name in names]
        if not hits:
            continue
        m = hits[0]
        want = contract_signature(m, name)
        if not _same_signature(inspect.signature(fn), want):
            raise LoadError(f"--against {shown}: {name}{inspect.signature(fn)} does not match the contract "
                            f"{name}{want} (tfimpl.{m}.{name} and reference.{m}.{name} take these parameters)")
        found[name] = (m, fn)
    if not found:
        if f.stem in MODULES:
            names = sorted(n for n in contract(f.stem) if not n.endswith("_vjp"))
            raise LoadError(f"--against {shown}: defines none of {f.stem}'s contract names "
                            f"({', '.join(names[:6])}{', ...' if len(names) > 6 else ''})")
        if len(solution.files) == 0 and Path(solution.path).is_file():
            raise LoadError(f"--against {shown}: defines no function with a contract name of any module "
                            f"({', '.join(MODULES[:5])}, ...)")
        solution.helpers.append(shown)
        return
    solution.files[shown] = (sorted({m for m, _ in found.values()}), kind)
    for name, (m, fn) in found.items():
        base = base_name(name)
        key = f"{m}.{base}"
        unit = solution.units.setdefault(key, Unit(m, base, shown, kind))
        if name.endswith("_vjp") and base in contract(m):
            unit.vjp = None if name in stubs else timed(fn, name, time_limit)
        else:
            unit.fn = timed(fn, name, time_limit)
            unit.attempted = name not in stubs
    for unit in solution.units.values():
        if unit.fn is None:  # only its *_vjp is written: graded by that
            unit.attempted = unit.vjp is not None
        elif not unit.attempted:  # a stub's gradient is not graded either
            unit.vjp = None


# --- the time limit ------------------------------------------------------------------------------

_ARMED = [False]


def _alarm(label, limit):
    def handler(signum, frame):
        raise TimeLimit(f"your {label} did not return within {limit:g} s (the per-call time limit, "
                        f"--grade-time-limit): it was stopped and the case graded as failed")
    return handler


def timed(fn, label, limit):
    """``fn`` under a per-call time limit of ``limit`` seconds (0: none), with the call it failed on
    noted on any exception it raises. The outermost call arms SIGALRM (main thread only); the time
    a Session or XLA spends running the graph is TensorFlow's and is not limited here."""
    def call(*args, **kwargs):
        outer = bool(limit) and not _ARMED[0] and threading.current_thread() is threading.main_thread()
        if outer:
            previous = signal.signal(signal.SIGALRM, _alarm(label, limit))
            signal.setitimer(signal.ITIMER_REAL, limit)
            _ARMED[0] = True
        try:
            return fn(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - noted and raised again
            _note(e, label, args, kwargs)
            raise
        finally:
            if outer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
                _ARMED[0] = False
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(call, attr, getattr(fn, attr))
    call.__signature__ = inspect.signature(fn)  # no __wrapped__: AutoGraph must convert this wrapper, not skip it
    call.learner_function = fn
    return call


CALL_NOTE = "in your call "


def _note(e, label, args, kwargs):
    if any(n.startswith(CALL_NOTE) for n in getattr(e, "__notes__", ())):
        return

    def plain(a):
        if tf.is_tensor(a):
            try:
                return a.numpy()
            except Exception:  # noqa: BLE001 - a symbolic tensor: its dtype and shape
                return _Traced(a)
        return a
    try:
        text = call_text(label, tuple(tf.nest.map_structure(plain, list(args))), kwargs)
    except Exception:  # noqa: BLE001 - a call that cannot be written out is named only
        text = f"{label}(...)"
    e.add_note(CALL_NOTE + text)


class _Traced:
    def __init__(self, t):
        self.t = t

    def __repr__(self):
        return f"<{self.t.dtype.name} tensor of shape {tuple(self.t.shape)}, traced>"


def numpy_call(fn):
    """A NumPy function called with NumPy arrays where the harness passes tensors (eagerly)."""
    def call(*args, **kwargs):
        def plain(a):
            return a.numpy() if tf.is_tensor(a) else a
        return fn(*tf.nest.map_structure(plain, list(args)), **tf.nest.map_structure(plain, kwargs))
    for attr in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(call, attr, getattr(fn, attr))
    call.__signature__ = inspect.signature(fn)
    return call


# --- rebinding: the same code, with the learner's functions in place ---------------------------

SCOPES = ("tfimpl.", "tests.catalog")
"""Functions whose globals and closures rebind() follows: tfimpl's (for derived gradients) and the
catalog's adapters. Others (reference, TensorFlow, NumPy) are left as they are."""


def _in_scope(fn):
    return isinstance(fn, types.FunctionType) and str(fn.__globals__.get("__name__", "")).startswith(SCOPES)


def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def rebind(obj, swap, proxies=None, memo=None):
    """``obj`` with every function it reaches through closures and globals (within SCOPES) copied so
    that, where it named an object whose id is in ``swap``, it names ``swap[id]`` instead, and where
    it named a module in ``proxies`` (name -> proxy), the proxy. Unchanged objects are returned as
    they are, and each copy is made once (``memo``), so runners cached by function stay cached."""
    proxies = proxies or {}
    memo = {} if memo is None else memo
    if id(obj) in swap:
        return swap[id(obj)]
    if not _in_scope(obj):
        return obj
    if id(obj) in memo:
        return memo[id(obj)]
    memo[id(obj)] = obj  # provisional: a recursive function refers to itself unchanged
    cells = None
    if obj.__closure__:
        contents = []
        for cell in obj.__closure__:
            try:
                contents.append(cell.cell_contents)
            except ValueError:  # an empty cell
                contents.append(_EMPTY)
        new = [c if c is _EMPTY else rebind(c, swap, proxies, memo) for c in contents]
        if any(n is not c for n, c in zip(new, contents)):
            cells = tuple(types.CellType() if n is _EMPTY else types.CellType(n) for n in new)
    changes = {}
    for name in _global_names(obj.__code__):
        if name not in obj.__globals__:
            continue
        value = obj.__globals__[name]
        if isinstance(value, types.ModuleType):
            if value.__name__ in proxies:
                changes[name] = proxies[value.__name__]
            continue
        replaced = rebind(value, swap, proxies, memo)
        if replaced is not value:
            changes[name] = replaced
    if cells is None and not changes:
        return obj
    g = obj.__globals__
    if changes:
        g = dict(g)
        g.update(changes)
    copy = types.FunctionType(obj.__code__, g, obj.__name__, obj.__defaults__, cells or obj.__closure__)
    copy.__kwdefaults__ = obj.__kwdefaults__
    copy.__dict__.update(obj.__dict__)
    copy.__module__, copy.__qualname__, copy.__doc__ = obj.__module__, obj.__qualname__, obj.__doc__
    memo[id(obj)] = copy
    return copy


_EMPTY = object()


def reached(obj, index, seen=None):
    """The contract functions (module, name) that ``obj`` names, directly or through the catalog's
    adapters (closures and globals within tests.catalog), by identity via ``index`` (id -> key)."""
    seen = set() if seen is None else seen
    if obj is None or id(obj) in seen:
        return set()
    seen.add(id(obj))
    if id(obj) in index:
        return {index[id(obj)]}
    if not (isinstance(obj, types.FunctionType) and str(obj.__globals__.get("__name__", "")).startswith("tests.")):
        return set()
    out = set()
    for cell in obj.__closure__ or ():
        try:
            out |= reached(cell.cell_contents, index, seen)
        except ValueError:
            pass
    names = _global_names(obj.__code__)
    for name in names:
        value = obj.__globals__.get(name)
        if isinstance(value, types.ModuleType) and value.__name__.startswith("tfimpl."):
            m = value.__name__.split(".", 1)[1]
            out |= {(m, n) for n in names if n in contract(m) and contract(m)[n]["tfimpl"] is not None}
        elif value is not None:
            out |= reached(value, index, seen)
    return out


def _index(side):
    return {id(v[side]): (m, n) for m in MODULES for n, v in contract(m).items() if v[side] is not None}


LEARNER_SLACK = 4
"""A learner's function is held to LEARNER_SLACK times the catalog's tolerance. The catalog's error
models bound TensorFlow's own op sequence (its fused kernels, in the order they round); a correct
formula written with other ops rounds elsewhere and lands a little further (a hand-written sigmoid's
float64 gradient under XLA: 1.14 times the SigmoidGrad kernel's bound). Exact tolerances stay
exact; every mistake the hints name is off by 10**5 eps and more."""


def learner_tol(tols):
    return {d: dataclasses.replace(t, n_eps=t.n_eps * LEARNER_SLACK,
                                   why=f"{LEARNER_SLACK} x ({t.why}): your ops are not TensorFlow's kernel")
            for d, t in tols.items()}


# --- the plan: which checks grade which function --------------------------------------------------

@dataclass
class Plan:
    solution: Solution
    concepts: dict = field(default_factory=dict)
    """catalog name -> the entry with the learner's functions swapped in."""
    concept_units: dict = field(default_factory=dict)
    """catalog name -> [unit keys it grades]."""
    concept_kind: dict = field(default_factory=dict)
    named: dict = field(default_factory=dict)
    """named test ("tests/test_x.py::test_y") -> [unit keys it grades]."""
    swaps: dict = field(default_factory=dict)
    """side ("tfimpl"/"reference") -> {(module, name): the learner's object} for the named tests."""
    notes: dict = field(default_factory=dict)
    """unit key -> [sentences about how it is graded]."""


def plan(solution, root=ROOT):
    """Which catalog entries and named tests grade each attempted function, with the substitutes."""
    p = Plan(solution)
    tf_index = _index("tfimpl")
    swaps = {"tfimpl": {}, "reference": {}}
    for key, unit in solution.attempted.items():
        m, n = unit.module, unit.name
        sides = contract(m).get(n, {"tfimpl": None, "reference": None})
        vjp_sides = contract(m).get(f"{n}_vjp", {"tfimpl": None, "reference": None})
        notes = p.notes.setdefault(key, [])
        if unit.kind == "tf":
            if unit.fn is not None and sides["tfimpl"] is not None:
                swaps["tfimpl"][(m, n)] = unit.fn
            if unit.vjp is not None:
                swaps["tfimpl"][(m, f"{n}_vjp")] = unit.vjp
                notes.append(f"gradients: your {n}_vjp")
            elif unit.fn is not None and vjp_sides["tfimpl"] is not None:
                swaps["tfimpl"][(m, f"{n}_vjp")] = rebind(vjp_sides["tfimpl"], {id(sides["tfimpl"]): unit.fn})
                notes.append(f"gradients: GradientTape through your {n} (tfimpl's {n}_vjp, rebound)")
        else:
            if unit.fn is not None and sides["reference"] is not None:
                swaps["reference"][(m, n)] = unit.fn
            if unit.vjp is not None:
                swaps["reference"][(m, f"{n}_vjp")] = unit.vjp
                notes.append(f"gradients: your {n}_vjp")
            elif vjp_sides["tfimpl"] is not None or vjp_sides["reference"] is not None:
                notes.append(f"gradients: not attempted (NumPy code has no GradientTape: write {n}_vjp)")
            notes.append(f"modes: eager only; tf.function, XLA and a TF1 Session are {NOT_APPLICABLE}")
    p.swaps = swaps
    units_by_name = {(u.module, u.name): k for k, u in solution.attempted.items()}
    for c in CATALOG:
        used = reached(c.tf, tf_index) | reached(c.tf_vjp, tf_index)
        keys = sorted({units_by_name[(m, base_name(n))] for m, n in used if (m, base_name(n)) in units_by_name})
        if not keys:
            continue
        kinds = {solution.units[k].kind for k in keys}
        kind = "numpy" if "numpy" in kinds else "tf"
        swap = {}
        for m, n in used:
            k = units_by_name.get((m, base_name(n)))
            if k is None:
                continue
            unit = solution.units[k]
            tf_obj = contract(m)[n]["tfimpl"]
            if kind == "tf":
                learner = swaps["tfimpl"].get((m, n))
            else:
                own = unit.vjp if n.endswith("_vjp") else unit.fn
                learner = numpy_call(own) if own is not None else None
            if learner is not None:
                swap[id(tf_obj)] = learner
        tf_fn = rebind(c.tf, swap)
        tf_vjp = rebind(c.tf_vjp, swap) if c.tf_vjp is not None else None
        if kind == "numpy" and tf_vjp is not None and not any(
                solution.units[k].vjp is not None for k in keys):
            tf_vjp = None
        substitute_concept = c.replace(tf=tf_fn, tf_vjp=tf_vjp, tol=learner_tol(c.tol), kernel_facts=(),
                                       grad_tol=learner_tol(c.grad_tol) if c.grad_tol is not None else None,
                                       bench_tol=None)
        if kind == "numpy":
            object.__setattr__(substitute_concept, "modes", ("eager",))  # harness.check_rejects reads it
        p.concepts[c.name] = substitute_concept
        p.concept_units[c.name] = keys
        p.concept_kind[c.name] = kind
    for path in sorted((Path(root) / "tests").glob("test_*.py")):
        if path.stem in MACHINERY:
            continue
        rel = f"tests/{path.name}"
        for fact in mentions.named_facts(path, rel):
            keys = set()
            for (m, n), info in fact.mentions.items():
                for side in ("tfimpl", "reference"):
                    if side in info["sides"] and (m, n) in swaps[side]:
                        k = units_by_name.get((m, base_name(n)))
                        if k is not None and solution.units[k].kind == ("tf" if side == "tfimpl" else "numpy"):
                            keys.add(k)
            if keys:
                p.named[fact.test] = sorted(keys)
    return p


# --- selecting the run's items -------------------------------------------------------------------

def named_key(nodeid):
    """"tests/test_x.py::test_y[params]" -> "tests/test_x.py::test_y" (a stateful TestCase's
    "::runTest" dropped: its fact is the class)."""
    key = nodeid.split("[", 1)[0]
    return key[:-len("::runTest")] if key.endswith("::runTest") else key


def ignores(p, rel_path):
    """True for a test file (or bench/) that holds none of the tests grading the plan's functions, so
    that a run with --against does not import and collect it: the catalog's generic tests and the
    files of the selected named tests are all it needs."""
    parts = Path(rel_path).parts
    if parts[:1] == ("bench",):
        return True
    if parts[:1] != ("tests",) or len(parts) != 2 or not parts[1].startswith("test_") or not parts[1].endswith(".py"):
        return False
    wanted = {CATALOG_FILE} if p.concepts else set()
    wanted |= {key.split("::", 1)[0] for key in p.named}
    return "/".join(parts) not in wanted


def meta(p, nodeid, params):
    """What the test ``nodeid`` (with its parametrize ``params``) grades: a dict (units, check,
    dtype, mode, concept or test), or None if it grades none of the learner's functions."""
    path, _, rest = nodeid.partition("::")
    func = rest.split("[", 1)[0]
    if path == CATALOG_FILE:
        concept = params.get("concept")
        if concept not in p.concepts or params.get("side") == "reference":
            return None
        check = CATALOG_TESTS.get(func, "values")
        fd = func == "test_gradient_matches_finite_differences"
        mode = params.get("mode", "eager" if fd else None)
        dtype = params.get("dtype", "float64" if fd else None)
        if p.concept_kind[concept] == "numpy" and mode not in (None, "eager"):
            return None
        if check == "gradients" and p.concepts[concept].tf_vjp is None:
            return None
        device = params.get("device", "cpu")
        case = params.get("case")
        return dict(units=p.concept_units[concept], check=check, dtype=dtype, mode=mode,
                    device=device, concept=concept, test=nodeid, case=getattr(case, "id", None))
    key = named_key(nodeid)
    if key in p.named:
        return dict(units=p.named[key], check="named", dtype=None, mode=None, device="cpu",
                    concept=None, test=nodeid)
    return None


def crash_failure(longrepr_text):
    """What a report without the grader's account says (a worker that crashed: pytest-xdist's report)."""
    return {"exception": "crash", "message": _first_lines(longrepr_text[-600:]), "error": "a crash",
            "got": "the process running it ended (an abort or a segfault, in TensorFlow or in your code, or the "
                   "per-test backstop)"}


def exit_status(grade, status):
    """The run's exit status with --against: 1 if an attempted function fails, 0 if none does (also when
    nothing is attempted yet and no test ran); pytest's own for an interrupted or broken run."""
    return (0 if grade.passed else 1) if status in (0, 1, 5) else status


def meta_from_nodeid(p, nodeid):
    """meta() for a report that carries none (a worker that crashed): read from the id itself."""
    path, _, rest = nodeid.partition("::")
    if path != CATALOG_FILE:
        return meta(p, nodeid, {})
    ids = rest.split("[", 1)[1].rstrip("]") if "[" in rest else ""
    params = {}
    for name in sorted(p.concepts, key=len, reverse=True):
        if re.search(rf"(^|-){re.escape(name)}(-|$)", ids):
            params["concept"] = name
            break
    tokens = ids.split("-")
    params.update({k: v for k, v in (("dtype", next((t for t in tokens if t in DTYPES), None)),
                                     ("mode", next((t for t in tokens if t in MODES), None))) if v})
    if "tf" in tokens[:1]:
        params["side"] = "tf"
    return meta(p, nodeid, params)


# --- substitution for the session ----------------------------------------------------------------

def proxy(module, replacements):
    """A stand-in for ``module``: its attributes, with ``replacements`` (name -> object) over them."""
    stand_in = types.ModuleType(module.__name__, module.__doc__)
    stand_in.__dict__.update(vars(module))
    stand_in.__dict__.update(replacements)
    stand_in.grader_stand_in_for = module
    return stand_in


def substitute(p, test_modules):
    """Point the catalog (BY_NAME) and each of ``test_modules`` at the learner's functions; returns
    the function that puts everything back."""
    undo = []
    for name, concept in p.concepts.items():
        undo.append((BY_NAME, name, BY_NAME[name]))
        BY_NAME[name] = concept
    by_module = {}
    objects = {}
    for side, swaps in p.swaps.items():
        for (m, n), obj in swaps.items():
            by_module.setdefault(f"{side}.{m}", {})[n] = obj
            original = contract(m)[n][side]
            if original is not None:
                objects[id(original)] = obj
    proxies = {name: proxy(sys.modules[name], repl) for name, repl in by_module.items() if name in sys.modules}
    for mod in test_modules:
        namespace = vars(mod)
        for k, v in list(namespace.items()):
            if isinstance(v, types.ModuleType) and v.__name__ in proxies and v is sys.modules.get(v.__name__):
                undo.append((namespace, k, v))
                namespace[k] = proxies[v.__name__]
            elif id(v) in objects and callable(v):
                undo.append((namespace, k, v))
                namespace[k] = objects[id(v)]

    def restore():
        for target, k, v in reversed(undo):
            target[k] = v
    return restore


def bad_input_modes(params):
    """mode -> "pass"/"fail" of a failed bad-input case, mode by mode (the test stops at the first)."""
    concept, case = BY_NAME[params["concept"]], params["case"]
    out = {}
    for mode in getattr(concept, "modes", MODES):
        try:
            harness.check_rejects(concept, case, modes=(mode,))
            out[mode] = "pass"
        except (Exception, TimeLimit):  # noqa: BLE001 - any way of failing fails the mode
            out[mode] = "fail"
    return out


# --- failures: what went wrong, from the exception ----------------------------------------------

_WORST = re.compile(r"(?:output (?P<output>\d+): )?(?P<bad>\d+) of (?P<size>\d+) elements disagree; worst at index "
                    r"(?P<index>\((?:[^()]|\([^()]*\))*\)): TF (?P<got>.+?) vs reference (?P<expected>.+?) "
                    r"\((?P<error>[^()]*)\)$",
                    re.M)
_REPRODUCE = re.compile(r"reproduce: (?P<call>.+?)(?:   #.*)?$", re.M)
_DTYPE = re.compile(r"TF returned dtype (?P<got>\w+), expected (?P<expected>\w+)")
_SHAPE = re.compile(r"TF shape (?P<got>\(.*?\)) != reference shape (?P<expected>\(.*?\))")
_DRAWN = re.compile(r"^Draw \d+ \(sample\): Sample\(drawn: f\((?P<args>.*)\)\)$", re.M)


def describe_failure(exc, unit_names=()):
    """A JSON-able account of a failed case from its exception: the call, expected and got values,
    the error in eps, the exception, the message's first lines. ``unit_names`` (the learner's
    function names) turn a private module path in the call into the plain name."""
    message = str(exc)
    notes = list(getattr(exc, "__notes__", ()) or ())
    out = {"exception": type(exc).__name__, "message": _first_lines(message)}
    m = _REPRODUCE.search(message)
    call = m.group("call") if m else None
    if call is None:
        note = next((n for n in notes if n.startswith(CALL_NOTE)), None)
        if note:
            call = note[len(CALL_NOTE):]
    if call is None:
        drawn = _DRAWN.search("\n".join(notes))
        if drawn:
            call = f"f({drawn.group('args')})"
    if call:
        out["call"] = re.sub(rf"\b(?:{PRIVATE}|tfimpl)\.\w+\.", "", call)
    m = _WORST.search(message)
    if m:
        out.update(got=hint_table.number_text(m.group("got")), expected=hint_table.number_text(m.group("expected")),
                   error=m.group("error"), index=re.sub(r"np\.\w+\((-?\d+)\)", r"\1", m.group("index")), output=int(m.group("output") or 0),
                   elements=f"{m.group('bad')} of {m.group('size')}")
    elif (m := _DTYPE.search(message)):
        out.update(got=f"dtype {m.group('got')}", expected=f"dtype {m.group('expected')}", error="wrong dtype")
    elif (m := _SHAPE.search(message)):
        out.update(got=f"shape {m.group('got')}", expected=f"shape {m.group('expected')}", error="wrong shape")
    elif not isinstance(exc, AssertionError):
        out.update(got=f"raised {type(exc).__name__}: {_first_lines(message, 1)}", error="an exception")
    return out


def _first_lines(text, n=6):
    """The message without TensorFlow's stack traces and node names: its first ``n`` lines of text."""
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(text))
    lines = [ln.rstrip() for ln in text.splitlines() if ln.strip()
             and not ln.strip().startswith(("File ", "Detected at node", "Stack trace", "Original"))]
    return "\n".join(lines[:n])[:1500]


# --- the grade ------------------------------------------------------------------------------------

ALL_DTYPES = "all"
"""The dtype column of the bad-input row: its cases are not per dtype."""
ORDER = {"values": 0, "gradients": 1, "edges": 2, "bad input": 3, "named": 4}


@dataclass
class Case:
    meta: dict
    outcome: str
    """"passed", "failed", "skipped"."""
    failure: dict | None = None
    duration: float = 0.0


class Grade:
    """The results of one run, per attempted function; rendered as text, Markdown and JSON."""

    def __init__(self, p: Plan):
        self.plan = p
        self.cases = {k: [] for k in p.solution.attempted}

    def add(self, meta_, outcome, failure=None, duration=0.0):
        for key in meta_["units"]:
            if key in self.cases:
                self.cases[key].append(Case(meta_, outcome, failure, duration))

    # -- per unit
    def cells(self, key):
        """check -> dtype -> mode -> "pass" / "FAIL" / "skip" / "n/a" / "not attempted" / "not run";
        "bad input" has one row, for all dtypes (ALL_DTYPES)."""
        unit = self.plan.solution.units[key]
        concepts = [c for c, keys in self.plan.concept_units.items() if key in keys]
        grid = {check: {} for check in CHECKS}
        for c in concepts:
            concept = self.plan.concepts[c]
            kind = self.plan.concept_kind[c]
            for check in CHECKS:
                if check == "bad input":
                    if not concept.bad_inputs:
                        continue
                    dtypes = [ALL_DTYPES]
                elif check == "gradients" and concept.tf_vjp is None:
                    if kind == "numpy" and BY_NAME_ORIGINAL.get(c) is not None and BY_NAME_ORIGINAL[c].tf_vjp:
                        for dtype in concept.dtypes:
                            for mode in MODES:
                                grid[check].setdefault(dtype, {})[mode] = "not attempted"
                    continue
                else:
                    dtypes = list(concept.dtypes)
                for dtype in dtypes:
                    for mode in MODES:
                        default = "n/a" if kind == "numpy" and mode != "eager" else "not run"
                        grid[check].setdefault(dtype, {}).setdefault(mode, default)
        for case in self.cases[key]:
            m = case.meta
            if m["check"] == "named":
                continue
            modes = [m["mode"]] if m["mode"] else (["eager"] if unit.kind == "numpy" else list(MODES))
            dtype = m["dtype"] if m["check"] != "bad input" else ALL_DTYPES
            per_mode = (case.failure or {}).get("modes") or {}
            for mode in modes:
                row = grid[m["check"]].setdefault(dtype, {})
                result = {"passed": "pass", "failed": "FAIL", "skipped": "skip"}.get(case.outcome, case.outcome)
                if case.outcome == "failed" and per_mode:
                    result = "FAIL" if per_mode.get(mode) == "fail" else "pass"
                previous = row.get(mode)
                if previous in (None, "not run", "n/a") or result == "FAIL" or (previous == "skip" and result == "pass"):
                    row[mode] = result
        return grid

    def named(self, key):
        return sorted(((c.meta["test"], c.outcome, c.failure) for c in self.cases[key] if c.meta["check"] == "named"),
                      key=lambda t: t[0])

    def failures(self, key):
        """Failed cases in the order the grade shows them: minimal ones (fixed cases, or drawn ones
        hypothesis shrank) first, then by check, dtype, mode."""
        def order(c):
            m = c.meta
            return (not (c.failure or {}).get("minimal", True), ORDER[m["check"]],
                    DTYPES.index(m["dtype"]) if m["dtype"] in DTYPES else -1,
                    MODES.index(m["mode"]) if m["mode"] in MODES else -1, m["test"])
        return sorted((c for c in self.cases[key] if c.outcome == "failed"), key=order)

    def status(self, key):
        unit = self.plan.solution.units[key]
        if not unit.attempted:
            return "not attempted"
        if self.failures(key):
            return "failed"
        if not self.cases[key]:
            return "no checks"
        return "passed"

    def hints(self, key):
        unit = self.plan.solution.units[key]
        records = []
        for c in self.failures(key):
            record = dict(c.failure or {})
            record.update(check=c.meta["check"], dtype=c.meta["dtype"], mode=c.meta["mode"], test=c.meta["test"],
                          concept=c.meta.get("concept"))
            records.append(record)
        passed = [dict(check=c.meta["check"], dtype=c.meta["dtype"], mode=c.meta["mode"], test=c.meta["test"])
                  for c in self.cases[key] if c.outcome == "passed"]
        return hint_table.matching(unit.module, unit.name, unit.kind, records, passed)

    @property
    def passed(self):
        return not any(self.status(k) == "failed" for k in self.cases)

    # -- output
    def to_json(self):
        out = {"against": self.plan.solution.path, "passed": self.passed, "functions": []}
        for key, unit in self.plan.solution.units.items():
            entry = {"function": key, "file": unit.file, "kind": unit.kind_text, "status": self.status(key)}
            if unit.attempted:
                first = next(iter(self.failures(key)), None)
                entry.update(
                    notes=self.plan.notes.get(key, []),
                    catalog=[c for c, keys in self.plan.concept_units.items() if key in keys],
                    cells=self.cells(key),
                    named=[{"test": t, "outcome": o} for t, o, _ in self.named(key)],
                    cases={"passed": sum(c.outcome == "passed" for c in self.cases[key]),
                           "failed": len(self.failures(key)), "total": len(self.cases[key])},
                    first_failure=None if first is None else dict(
                        check=first.meta["check"], dtype=first.meta["dtype"], mode=first.meta["mode"],
                        test=first.meta["test"], **(first.failure or {})),
                    hints=[dict(id=h.id, text=h.text, source=source_text(h.source)) for h in self.hints(key)])
            out["functions"].append(entry)
        out["not_attempted"] = [k for k, u in self.plan.solution.units.items() if not u.attempted]
        out["not_written"] = self.plan.solution.not_written()
        return out

    def text(self, markdown=False):
        return render(self.to_json(), markdown)


@functools.lru_cache(maxsize=None)
def _facts(path):
    return {f.test: f for f in mentions.named_facts(ROOT / path, path)}


def source_text(source):
    """A hint's source as the grade shows it: "claim <test>" becomes the claim's place and statement."""
    kind, _, where = source.partition(" ")
    if kind == "claim":
        fact = _facts(where.partition("::")[0]).get(where)
        if fact is not None and fact.claim is not None:
            c = fact.claim
            return f"{c.source}, {c.reference}: \"{c.statement}\" ({where})"
    if kind == "pitfall":
        return f"README, Pitfalls for learners, {where}"
    return source


BY_NAME_ORIGINAL = dict(BY_NAME)
"""The catalog before any substitution: what tfimpl's entries offer (a gradient, ...)."""

_SYMBOL = {"pass": "pass", "FAIL": "FAIL", "n/a": "n/a", "not run": "-", "skip": "skip", "not attempted": "n/att"}


def render(data, markdown=False):
    """The grade as terminal text (markdown=False) or Markdown."""
    lines = []
    head = f"# Grade of {data['against']}" if markdown else f"grade of {data['against']}"
    verdict = "passed" if data["passed"] else "FAILED"
    lines += [head, "", f"{'**' if markdown else ''}{verdict}{'**' if markdown else ''}: " + summary(data), ""]
    for f in data["functions"]:
        title = f"{f['function']} ({f['file']}, {f['kind']} code): {f['status']}"
        if f["status"] == "not attempted":
            continue
        lines.append(("## " if markdown else "") + title)
        if markdown:
            lines.append("")
        for note in f.get("notes", []):
            lines.append(("- " if markdown else "  ") + note)
        if markdown and f.get("notes"):
            lines.append("")
        table = _table(f["cells"], markdown)
        if f["status"] == "passed":
            ran = {c for c, rows in f["cells"].items() if any(v == "pass" for m in rows.values() for v in m.values())}
            lines.append(("- " if markdown else "  ") + f"every case passed: {f['cases']['passed']} of "
                         f"{f['cases']['total']} ({', '.join(c for c in CHECKS if c in ran) or 'no catalog check'}"
                         + (f"; named tests {len(f['named'])}" if f.get("named") else "") + ")")
        elif table:
            lines += table
        named = f.get("named", [])
        if named:
            passed = sum(n["outcome"] == "passed" for n in named)
            lines.append(("\n- " if markdown else "  ") + f"named tests: {passed} of {len(named)} passed"
                         + ("; failed:" if passed < len(named) else ""))
            for test, (bad, total) in _failed_named(named).items():
                text = test + (f" ({bad} of {total} cases)" if total > 1 else "")
                lines.append(("  - " if markdown else "      ") + (f"`{test}`" + text[len(test):] if markdown else text))
        first = f.get("first_failure")
        if first:
            where = ", ".join(x for x in (first["check"], first.get("dtype"), first.get("mode")) if x)
            lines.append(("\n- " if markdown else "  ") + f"first failure ({where}): {first['test']}")
            for label, k in (("call", "call"), ("expected", "expected"), ("got", "got"), ("error", "error")):
                if first.get(k):
                    value = first[k] + (" (at index " + first["index"] + ")" if k == "expected" and first.get("index")
                                        else "")
                    if k == "error" and first.get("elements"):
                        value += f"; {first['elements']} elements off"
                    lines.append(("  - " if markdown else "      ") + f"{label + ':':10}"
                                 + (f"`{value}`" if markdown and k == "call" else value))
            if not any(first.get(k) for k in ("call", "got")):
                for ln in first.get("message", "").splitlines()[:4]:
                    lines.append(("    " if markdown else "      ") + ln)
        for h in f.get("hints", []):
            lines.append(("\n- " if markdown else "  ") + f"hint: {h['text']} [{h['source']}]")
        lines.append("")
    for key, title in (("not_attempted", "not attempted (stubs that still raise NotImplementedError)"),
                       ("not_written", "not written (tfimpl's kept, not graded)")):
        if data.get(key):
            lines.append(("## " if markdown else "") + title)
            if markdown:
                lines.append("")
            lines.append(("" if markdown else "  ") + ", ".join(data[key]))
            lines.append("")
    legend = ("cells: pass / FAIL per check x dtype x mode; n/a: " + NOT_APPLICABLE
              + "; n/att: not attempted; -: not run in this run")
    lines.append(legend)
    return "\n".join(lines).rstrip() + "\n"


def _failed_named(named):
    """Failed named tests, their parametrized cases counted together: test -> (failed, total)."""
    out, totals = {}, {}
    for n in named:
        test = n["test"].split("[", 1)[0]
        totals[test] = totals.get(test, 0) + 1
        if n["outcome"] == "failed":
            out[test] = out.get(test, 0) + 1
    return {t: (k, totals[t]) for t, k in out.items()}


def summary(data):
    fns = data["functions"]
    attempted = [f for f in fns if f["status"] != "not attempted"]
    failed = [f["function"] for f in attempted if f["status"] == "failed"]
    unchecked = [f["function"] for f in attempted if f["status"] == "no checks"]
    graded = len(attempted) - len(unchecked)
    text = f"{graded - len(failed)} of {graded} attempted functions pass every check"
    if failed:
        text += f"; failing: {', '.join(failed)}"
    if unchecked:
        text += f"; no check of {', '.join(unchecked)} ran"
    if data["not_attempted"]:
        text += f"; {len(data['not_attempted'])} not attempted"
    return text


def _table(cells, markdown):
    rows = []
    for check in CHECKS:
        for dtype, modes in cells.get(check, {}).items():
            if all(v == "not run" for v in modes.values()):
                continue  # deselected in this run (-k, a node id): nothing to say
            rows.append((check, "" if dtype == ALL_DTYPES else dtype, [_SYMBOL.get(modes.get(m, "not run"), modes.get(m)) for m in MODES]))
    if not rows:
        return []
    if markdown:
        out = ["| check | dtype | " + " | ".join(MODES) + " |", "|---|---|" + "---|" * len(MODES)]
        out += [f"| {c} | {d} | " + " | ".join(v) + " |" for c, d, v in rows]
        return out + [""]
    out = [f"    {'':10} {'':9} " + " ".join(f"{m:9}" for m in MODES)]
    last = None
    for c, d, v in rows:
        out.append(f"    {c if c != last else '':10} {d:9} " + " ".join(f"{x:9}" for x in v))
        last = c
    return out


def write(grade, directory):
    """build/grade.md and build/grade.json (in ``directory``); returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    data = grade.to_json()
    (directory / "grade.json").write_text(json.dumps(data, indent=1, default=str) + "\n")
    (directory / "grade.md").write_text(render(data, markdown=True))
    return [str(directory / "grade.md"), str(directory / "grade.json")]


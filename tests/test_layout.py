"""The house rules of the layout, checked on the source: imports go one way and never in a circle.

    reference/  <-  tfimpl/  <-  the checking core (tests/'s non-test modules)  <-  tools/
                <-  bench/_support.py  <-  test files, benchmark cases and the conftest files

A module may import from its own layer or a lower one, never a higher one; the top layer (tests,
benchmark cases, conftest files) imports nothing of its own layer; no import of tfref's own code is
hidden inside a function (where it could dodge a circle); the module graph has no cycle; and the
references import no TensorFlow, so they compute on their own.
"""
import ast
import functools
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("reference", "tfimpl", "tests", "tools", "bench")
LAYERS = ("reference", "tfimpl", "core", "tools", "bench support", "top")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module):
    """The layer of a tfref module, by where it lives."""
    head, *rest = module.split(".")
    leaf = module.rsplit(".", 1)[-1]
    if head in ("reference", "tfimpl", "tools"):
        return LAYERS.index(head)
    if head == "conftest" or leaf == "conftest" or leaf.startswith(("test_", "bench_")):
        return LAYERS.index("top")
    if head == "bench":
        return LAYERS.index("bench support")
    return LAYERS.index("core")


def sources():
    files = [ROOT / "conftest.py"] + [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    return {module_name(p): p for p in files}


MODULES = sources()


def resolve(name):
    """The tfref module an imported dotted name refers to: the longest prefix that is a module."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in MODULES:
            return candidate
    return None


def imports(path):
    """(imported tfref module, line, inside a function?) for every import statement of the file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, nested):
        for child in ast.iter_child_nodes(node):
            inner = nested or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [f"{child.module}.{a.name}" for a in child.names]
            else:
                names = []
            for name in names:
                target = resolve(name)
                if target is not None:
                    found.append((target, child.lineno, nested))
                elif name.split(".")[0] in ("tensorflow", "keras"):
                    found.append((name.split(".")[0], child.lineno, nested))
            visit(child, inner)
    visit(tree, False)
    return found


@functools.cache
def edges():
    """module -> its imports (imports()), read when a test first asks: parsing the ~140 files at
    collection would cost every run's workers about a second, whatever the run selects."""
    return {module: imports(path) for module, path in MODULES.items()}


def test_every_import_goes_down_the_layers():
    bad = []
    for module, found in edges().items():
        for target, line, _ in found:
            if target not in MODULES:
                continue
            here, there = layer(module), layer(target)
            if there > here or (there == here == LAYERS.index("top")):
                bad.append(f"{MODULES[module].relative_to(ROOT)}:{line} ({LAYERS[here]}) imports {target} "
                           f"({LAYERS[there]})")
    assert not bad, "imports that go up or sideways at the top:\n  " + "\n  ".join(bad)


def test_no_import_of_tfrefs_own_code_is_hidden_inside_a_function():
    hidden = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {target}"
              for m, found in edges().items() for target, line, nested in found if nested and target in MODULES]
    assert not hidden, "imports inside functions:\n  " + "\n  ".join(hidden)


def test_the_module_graph_has_no_cycle():
    graph = {m: sorted({t for t, _, _ in found if t in MODULES and t != m}) for m, found in edges().items()}
    state, stack, cycles = {}, [], []

    def walk(m):
        state[m] = "open"
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == "open":
                cycles.append(" -> ".join(stack[stack.index(t):] + [t]))
            elif t not in state:
                walk(t)
        stack.pop()
        state[m] = "done"
    for m in graph:
        if m not in state:
            walk(m)
    assert not cycles, "import cycles:\n  " + "\n  ".join(cycles)


def test_the_references_import_no_tensorflow():
    leaks = [f"{MODULES[m].relative_to(ROOT)}:{line} imports {t}" for m, found in edges().items()
             if m.startswith("reference") for t, line, _ in found if t in ("tensorflow", "keras")]
    assert not leaks, "\n".join(leaks)


@pytest.mark.planted
@pytest.mark.parametrize("plant", ["up", "hidden", "cycle"])
def test_the_checks_catch_a_planted_import(plant, monkeypatch):
    """Each rule fails on the import it forbids: tfimpl importing the harness, a test helper imported
    inside a function, and the error models importing the harness that imports them."""
    planted = dict(edges())
    if plant == "up":
        planted["tfimpl.nn"] = edges()["tfimpl.nn"] + [("tests.harness", 1, False)]
        check = test_every_import_goes_down_the_layers
    elif plant == "hidden":
        planted["tests.harness"] = edges()["tests.harness"] + [("tests.catalog", 1, True)]
        check = test_no_import_of_tfrefs_own_code_is_hidden_inside_a_function
    else:
        planted["tests.catalog.error_models"] = edges()["tests.catalog.error_models"] + [("tests.harness", 1, False)]
        check = test_the_module_graph_has_no_cycle
    monkeypatch.setitem(globals(), "edges", lambda: planted)
    with pytest.raises(AssertionError):
        check()


# --- dependencies: declared exactly as imported ------------------------------------------------

PLUGINS = {"pytest-benchmark": "a pytest plugin: the benchmarks' fixture and flags",
           "pytest-xdist": "a pytest plugin: -n auto",
           "pygal": "pytest-benchmark's --benchmark-histogram draws with it (tests/test_bench_flags.py)",
           "pygaljs": "pytest-benchmark's --benchmark-histogram draws with it (tests/test_bench_flags.py)",
           "protobuf": "imported by the child process of tests/test_tfrecord.py (its CHILD code), which reads the "
                       "Example wire format with protobuf's own descriptors"}
"""Declared, never imported by a parsed import statement: what each is for."""


def declared():
    """(runtime, test) requirement names from pyproject.toml, normalised."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    def names(reqs):
        return {re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}
    return names(project["dependencies"]), names(project["optional-dependencies"]["test"])


def third_party(modules):
    """Distribution names of the third-party top-level modules ``modules`` import (stdlib left out)."""
    dists = importlib.metadata.packages_distributions()
    found = {}
    for m in modules:
        for node in ast.walk(ast.parse(MODULES[m].read_text())):
            if isinstance(node, ast.Import):
                tops = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops = [node.module + ("." + node.names[0].name if node.module == "google" else "")]
            else:
                continue
            for name in tops:
                top = name.split(".")[0]
                key = "google.protobuf" if name.startswith("google.protobuf") else top
                if top in sys.stdlib_module_names or top in PACKAGES or top == "conftest":
                    continue
                dist = dists.get("google" if key == "google.protobuf" else top, [top])
                dist = "protobuf" if key == "google.protobuf" else dist[0]
                found.setdefault(dist.lower().replace("_", "-"), f"{MODULES[m].relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_third_party_import_is_declared_and_every_declaration_imported():
    runtime, test = declared()
    sides = third_party([m for m in MODULES if m.split(".")[0] in ("reference", "tfimpl")])
    checks = third_party([m for m in MODULES if m.split(".")[0] not in ("reference", "tfimpl")])
    undeclared = [f"{where} imports {dist}, not in [project] dependencies" for dist, where in sides.items()
                  if dist not in runtime]
    undeclared += [f"{where} imports {dist}, in neither dependencies nor the test extra"
                   for dist, where in checks.items() if dist not in runtime | test]
    unused = [f"{dist} is declared and imported nowhere" for dist in sorted(runtime | test)
              if dist not in sides and dist not in checks and dist not in PLUGINS]
    misplaced = [f"{dist} is a runtime dependency, but only the checks import it" for dist in sorted(runtime)
                 if dist not in sides and dist in checks]
    assert not (undeclared + unused + misplaced), "\n".join(undeclared + unused + misplaced)

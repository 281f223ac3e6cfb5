"""Which tests mention which function: the named facts, read from the test files' source.

A named test "mentions" ``reference.<module>.<name>`` or ``tfimpl.<module>.<name>`` when its source,
or a module-level helper of its file that it uses (a function, class or constant, followed
transitively), names it through any import alias: ``R.softmax(``, ``reference.activations.softmax``,
a name imported from the module. ``named_facts(path, rel)`` gives every test of a file with the
functions it mentions, on which side, and through which helpers, plus the book claim its
``@pytest.mark.claim`` marker states.

The side-by-side pages (tools/sidebyside.py) list each function's facts from it; the grader
(tests/grader.py) picks the named tests that grade a learner's function from it. Source only: it
imports no test module and runs nothing.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

from tests import claims

SIDES = ("reference", "tfimpl")


def first_paragraph(doc):
    return " ".join(re.split(r"\n\s*\n", doc.strip(), maxsplit=1)[0].split())


@dataclass
class Fact:
    test: str
    """Its pytest id: tests/test_x.py::test_y."""
    sentence: str
    doc: str
    claim: claims.Claim | None
    """The test's claim marker, parsed (tests/claims.py): source, where, statement, verdict, ..."""
    mentions: dict = field(default_factory=dict)
    """(module, name) -> {"sides": {"reference", "tfimpl"}, "via": {helper names}}; empty "via":
    the test's own source names it."""


def sentence(test_name):
    """test_staircase_decay_is_constant_within_each_interval -> Staircase decay is constant ..."""
    words = re.sub(r"^test_?", "", test_name).replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def camel_words(name):
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).lower()
    return words[:1].upper() + words[1:]


def _dotted(node):
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return base and f"{base}.{node.attr}"
    return None


def _aliases(tree):
    """Local name -> dotted module or object path, from every import in the file."""
    out = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
                else:
                    top = a.name.split(".")[0]
                    out[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


_TARGET = re.compile(rf"^({'|'.join(SIDES)})\.([A-Za-z]\w*)\.([A-Za-z]\w*)$")


def _code_string(sub):
    """The module a string constant holds when it is Python that imports tfref code (a child
    process's program, run with ``python -c``), else None."""
    if not (isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "import " in sub.value
            and any(side in sub.value for side in SIDES)):
        return None
    try:
        return ast.parse(sub.value)
    except SyntaxError:
        return None


def _direct_mentions(node, aliases, code_strings=False):
    """{(module, name): {sides}} for every reference.<module>.<name> / tfimpl.<module>.<name>
    the source of ``node`` names (through any import alias); with ``code_strings``, also those
    named by the programs its string constants hold (with their own imports)."""
    found = {}
    for sub in ast.walk(node):
        child = _code_string(sub) if code_strings else None
        if child is not None:
            for key, sides in _direct_mentions(child, _aliases(child)).items():
                found.setdefault(key, set()).update(sides)
        if isinstance(sub, (ast.Name, ast.Attribute)):
            dotted = _dotted(sub)
            if not dotted:
                continue
            head, _, rest = dotted.partition(".")
            full = aliases.get(head, head) + (f".{rest}" if rest else "")
            m = _TARGET.match(full)
            if m:
                found.setdefault((m.group(2), m.group(3)), set()).add(m.group(1))
    return found


def _claim(decorators, test):
    for d in decorators:
        if isinstance(d, ast.Call) and (_dotted(d.func) or "").split(".")[-2:] == ["mark", "claim"]:
            def value(n):
                try:
                    return ast.literal_eval(n)
                except ValueError:
                    return ast.unparse(n)
            return claims.parse([value(a) for a in d.args], {k.arg: value(k.value) for k in d.keywords if k.arg},
                                test)
    return None


def named_facts(path, rel, code_strings=False):
    """Every test in the file at ``path`` (shown as ``rel``) with the functions it mentions,
    directly or through the module-level helpers (functions, classes, constants) it uses; with
    ``code_strings``, also through the child-process programs those hold as strings."""
    tree = ast.parse(Path(path).read_text())
    aliases = _aliases(tree)
    helpers, tests = {}, []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
            tests.append((node.name, node, node.decorator_list, ast.get_docstring(node)))
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test"):
                    tests.append((f"{node.name}::{item.name}", item, node.decorator_list + item.decorator_list,
                                  ast.get_docstring(item)))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            helpers[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    if t.id.startswith("Test") and isinstance(node.value, ast.Attribute) \
                            and node.value.attr == "TestCase" and isinstance(node.value.value, ast.Name):
                        tests.append((t.id, ("machine", node.value.value.id), [], None))  # a stateful test
                    else:
                        helpers[t.id] = node
    direct = {name: _direct_mentions(node, aliases, code_strings) for name, node in helpers.items()}

    def used_helpers(node):
        seen, todo = set(), [node]
        while todo:
            for sub in ast.walk(todo.pop()):
                if isinstance(sub, ast.Name) and sub.id in helpers and sub.id not in seen:
                    seen.add(sub.id)
                    todo.append(helpers[sub.id])
        return seen

    facts = []
    for name, node, decorators, doc in tests:
        if isinstance(node, tuple):  # Test = Machine.TestCase: the machine class is the test
            machine = helpers.get(node[1])
            if machine is None:
                continue
            doc = ast.get_docstring(machine)
            text = "Stateful test: " + first_paragraph(doc) if doc else camel_words(node[1])
            decorators, node = machine.decorator_list, machine
        else:
            text = sentence(name.split("::")[-1])
        fact = Fact(f"{rel}::{name}", text, first_paragraph(doc) if doc else "", _claim(decorators, f"{rel}::{name}"))
        own = _direct_mentions(node, aliases, code_strings)
        for key, sides in own.items():
            fact.mentions[key] = {"sides": set(sides), "via": set()}
        for helper in sorted(used_helpers(node)):
            for key, sides in direct[helper].items():
                m = fact.mentions.setdefault(key, {"sides": set(), "via": set()})
                if key not in own:
                    m["via"].add(helper)
                m["sides"] |= sides
        facts.append(fact)
    return facts

"""Starting files for checking your own implementation: one stub module per module pair.

    python -m tools.exercise new DIR [--chapter 4.2] [--concept softmax ...] [--numpy] [--force]

writes ``DIR/<module>.py`` for each module of the chapter (every module without ``--chapter``): for
each function of the module that the chapter covers (or each ``--concept`` named), its signature,
a docstring with the formula (the reference's docstring), the TensorFlow API it mirrors (tfimpl's),
the book's chapter and the claims its tests answer, then the input checks tfimpl makes (so bad
input is rejected with tfref's messages) and ``raise NotImplementedError``. Fill in the bodies and
run ``pytest --against=DIR``: a stub that still raises is graded "not attempted", not "failed".

TensorFlow stubs by default; ``--numpy`` writes NumPy stubs (the reference's checks, and a
``*_vjp`` stub for each gradient, which NumPy code must write by hand to have its gradients graded).
A function belongs to a chapter by the claims its named tests answer (tests/mentions.py), else by
its module's chapter (tests/chapters.py). Existing files are kept unless ``--force``.
"""
from __future__ import annotations

import argparse
import ast
import builtins
import inspect
import sys
import textwrap
from pathlib import Path

from tests import grader
from tests.chapters import chapters, normalise, primary_chapter
from tests.mentions import first_paragraph, named_facts

ROOT = Path(__file__).resolve().parent.parent


def book(root=ROOT):
    """(module, name) -> [(where, statement, page)] of the claims the named tests that mention it answer
    (page: the page a book or notes claim cites, or None)."""
    out = {}
    for path in sorted((Path(root) / "tests").glob("test_*.py")):
        if path.stem in grader.MACHINERY:
            continue
        for fact in named_facts(path, f"tests/{path.name}"):
            if fact.claim is None:
                continue
            for key in fact.mentions:
                entry = (fact.claim.where, fact.claim.statement, fact.claim.page)
                if entry not in out.setdefault(key, []):
                    out[key].append(entry)
    return out


def chapter_numbers(module, name, claims):
    """The chapters (second edition numbers) of a function: its claims' "chN" places, else its module's."""
    numbers = [normalise(w) for w, _, _ in claims.get((module, name), []) if w.startswith("ch")]
    if numbers:
        return sorted(set(numbers), key=numbers.index)
    primary = primary_chapter(module)
    return [primary.number] if primary else []


def within(number, prefix):
    prefix = normalise(prefix)
    return number == prefix or number.startswith(prefix + ".")


def functions(module, numpy=False):
    """The stub-able functions of ``module`` in file order: (name, the side's function object)."""
    side = "reference" if numpy else "tfimpl"
    mod = grader._side(side, module)
    if mod is None:
        return []
    tree = ast.parse(Path(mod.__file__).read_text())
    out = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in grader.contract(module):
            fn = getattr(mod, node.name)
            if node.name.endswith("_vjp") and not numpy:
                continue  # TensorFlow code gets its gradients from GradientTape
            out.append((node.name, fn, node))
    return out


def _is_check(stmt):
    value = stmt.value if isinstance(stmt, (ast.Expr, ast.Assign)) else None
    if not isinstance(value, ast.Call):
        return False
    f = value.func
    return ((isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "check")
            or (isinstance(f, ast.Name) and f.id.startswith("_check")))


def checks(node):
    """The function's leading input-check statements (after its docstring)."""
    body = node.body[1:] if ast.get_docstring(node) is not None else node.body
    out = []
    for stmt in body:
        if not _is_check(stmt):
            break
        out.append(stmt)
    return out


def needed_names(stmts, params):
    """Names the check statements read that are neither parameters, builtins, `check`, nor set by an
    earlier check: module helpers and constants to import."""
    assigned, out = set(params), []
    for stmt in stmts:
        for n in ast.walk(stmt):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
                if n.id not in assigned and n.id != "check" and not hasattr(builtins, n.id) and n.id not in out:
                    out.append(n.id)
        if isinstance(stmt, ast.Assign):
            for t in stmt.targets:
                assigned |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
    return out


def stub(module, name, fn, node, claims, numpy=False):
    """The source of one stub function, and the names it needs from the side's module."""
    ref = grader._side("reference", module)
    tf_side = grader._side("tfimpl", module)
    formula = inspect.getdoc(getattr(ref, name, None)) if ref is not None and hasattr(ref, name) else None
    api = inspect.getdoc(getattr(tf_side, name, None)) if tf_side is not None and hasattr(tf_side, name) else None
    doc = [formula or (first_paragraph(api) if api else f"{name}: see tfimpl/{module}.py")]
    if api and not numpy:
        doc.append("TensorFlow: " + first_paragraph(api))
    numbers = chapter_numbers(module, name, claims)
    titles = {c.number: c.title for c in chapters()}
    places = [f"{n} ({titles[n]})" if n in titles else n for n in numbers]
    pages = [f"p. {n}" for n in sorted({page for _, _, page in claims.get((module, name), []) if page})]
    if places or pages:
        doc.append("Book: " + "; ".join(places + pages))
    statements = [s for _, s, _ in claims.get((module, name), [])][:3]
    if statements:
        doc.append("Its tests answer: " + "; ".join(statements))
    doc.append("The checks below are tfimpl's: keep them, and bad input is rejected with tfref's messages."
               if not numpy else "The checks below are the reference's: keep them, and bad input is rejected "
               "with tfref's messages. Compute in the input's dtype (no float64 upcast).")
    sig = inspect.signature(fn)
    params = list(sig.parameters)
    body = checks(node)
    lines = [f"def {name}{sig}:", textwrap.indent('"""' + "\n\n".join(
        textwrap.fill(p, 96) if "\n" not in p else p for p in doc) + '\n"""', "    ")]
    lines += [textwrap.indent(ast.unparse(s), "    ") for s in body]
    lines.append(f"    raise NotImplementedError(\"{name}: write it, then run pytest --against=<this folder>\")")
    return "\n".join(lines), needed_names(body, params)


def module_text(module, names, claims, numpy=False):
    """The stub module ``module`` holding ``names`` (in the side's file order)."""
    side = "reference" if numpy else "tfimpl"
    parts, imports = [], []
    for name, fn, node in functions(module, numpy):
        if name not in names:
            continue
        text, needed = stub(module, name, fn, node, claims, numpy)
        parts.append(text)
        imports += [n for n in needed if n not in imports]
    kind = "NumPy" if numpy else "TensorFlow"
    head = [f'"""Your {module}: {kind} code, graded by `pytest --against=<this folder>` (docs/grading.md).',
            "",
            "Fill in each function; one that still raises NotImplementedError is graded \"not attempted\".",
            '"""',
            "import numpy as np" + ("" if numpy else "\nimport tensorflow as tf"),
            "",
            f"from {side} import _checks as check"]
    if imports:
        head.append(f"from {side}.{module} import {', '.join(imports)}")
    return "\n".join(head) + "\n\n\n" + "\n\n\n".join(parts) + "\n"


def plan(chapter=None, concepts=(), numpy=False, root=ROOT):
    """module -> [function names] the stubs hold."""
    claims = book(root)
    modules = grader.MODULES
    if chapter:
        chapters(chapter)  # an unknown chapter is a ValueError naming the known ones
        from_chapter = [m for c in chapters(chapter) for m in c.all_modules]
        modules = [m for m in dict.fromkeys(from_chapter)]
    out = {}
    for m in modules:
        picked = []
        for name, fn, node in functions(m, numpy):
            base = grader.base_name(name)
            if concepts and name not in concepts and base not in concepts:
                continue
            if chapter and not concepts and not any(within(n, chapter) for n in chapter_numbers(m, base, claims)):
                continue
            picked.append(name)
        if picked:
            out[m] = picked
    if concepts:
        missing = set(concepts) - {grader.base_name(n) for ns in out.values() for n in ns} - {
            n for ns in out.values() for n in ns}
        if missing:
            raise ValueError(f"no function {', '.join(sorted(missing))} in "
                             + (f"chapter {chapter}" if chapter else "any module") + f" ({'NumPy' if numpy else 'TensorFlow'} side)")
    return out, claims


def new(directory, chapter=None, concepts=(), numpy=False, force=False, root=ROOT):
    """Write the stub modules into ``directory``; returns {path: [function names]}."""
    picked, claims = plan(chapter, concepts, numpy, root)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for module, names in picked.items():
        path = directory / f"{module}.py"
        if path.exists() and not force:
            print(f"kept {path} (exists; --force overwrites it)", file=sys.stderr)
            continue
        path.write_text(module_text(module, names, claims, numpy))
        written[str(path)] = names
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.exercise", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("new", help="write stub modules into DIR")
    p.add_argument("dir")
    p.add_argument("--chapter", help="only this chapter's functions (4, 4.2, 4.2.1, ...; tests/chapters.py)")
    p.add_argument("--concept", nargs="+", default=(), help="only these functions (softmax, lstm_cell, ...)")
    p.add_argument("--numpy", action="store_true", help="NumPy stubs (the reference's side) instead of TensorFlow")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    args = parser.parse_args(argv)
    try:
        written = new(args.dir, args.chapter, tuple(args.concept), args.numpy, args.force)
    except ValueError as e:
        parser.error(str(e))
    for path, names in written.items():
        print(f"wrote {path}: {', '.join(names)}")
    if written:
        print(f"fill in a function, then: pytest --against={args.dir}")


if __name__ == "__main__":
    main()

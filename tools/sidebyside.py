"""Side by side: each ``reference/`` function next to its ``tfimpl/`` twin, as static HTML.

    python -m tools.sidebyside [--out DIR] [--agreement FILE] [--no-catalog]

writes ``DIR/<module>.html`` (default ``build/sidebyside``) for every module that is in both
``reference/`` and ``tfimpl/``, ``DIR/index.html`` and one stylesheet, ``DIR/sidebyside.css``.
The index and the navigation list the modules in the book's order, each beside its chapter, from
the one chapter map, ``tests/chapters.py`` (a module stands at its primary chapter; the chapters
that use it too are named beside it; a module the map does not know comes last).
Each page reads like two columns of one page: per public function (in the reference module's
order), the reference's code on the left and tfimpl's on the right, highlighted by Pygments,
under the first paragraph of its docstring (the formula). Under each pair:

- the named facts: the tests in ``tests/test_<module>.py`` whose source (or a module-level helper
  it uses) mentions the function (``R.softmax(``, ``reference.activations.softmax``, a name imported
  from the module), each as a sentence, with the book statement it answers when it carries
  ``@pytest.mark.claim(where, statement, source=..., verdict=..., correction=...)``, with its source
  (the book, the reader's notes, tfref's port to TF2, TF's docs) and where it is;
- the catalog entries (``tests/catalog/*.py``) that run it through the generic matrix, with the
  tolerance each dtype gets and why (``--no-catalog`` leaves them out);
- its rows of the agreement report, from ``build/agreement.json`` when a run wrote it.

Everything is read from the files in this tree when the command runs, so the pages cannot drift
from the code; they need no network and no JavaScript, and open from file://.
"""
from __future__ import annotations

import argparse
import ast
import html
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from tests import tf_setup  # noqa: F401  (first: TensorFlow imported with its start-up chatter silenced)
from tests import claims
from tests.catalog import CATALOG, TOPICS
from tests.catalog.concept import MODES
from tests.chapters import book_order, chapters_of, primary_chapter
from tests.mentions import first_paragraph, named_facts

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("reference", "tfimpl")
DEFAULT_OUT = "build/sidebyside"
AGREEMENT = "build/agreement.json"
AGREEMENT_HINT = "run `pytest tests/test_catalog.py --agreement-report` to add the agreement rows"
STYLESHEET = "sidebyside.css"


# --- what the modules define -------------------------------------------------------------

@dataclass
class Definition:
    """One public top-level definition: a def, a class, or a function made by assignment
    (``relu_vjp = vjp(relu)``, ``f = lambda ...``, ``g = tf.nn.relu``)."""
    name: str
    kind: str
    line: int
    """First line, decorators included (1-based)."""
    source: str
    doc: str | None


@dataclass
class Pair:
    name: str
    ref: Definition | None
    tf: Definition | None

    @property
    def formula(self):
        """The first paragraph of the docstring: the reference's, else tfimpl's."""
        for d in (self.ref, self.tf):
            if d is not None and d.doc:
                return first_paragraph(d.doc)
        return ""


def is_public(name):
    return not name.startswith("_")


def _is_function_value(name, value):
    """A module-level assignment that makes a function: a lower-case name bound to a lambda, a
    call (a decorator applied by hand, functools.partial) or another callable's name; an
    UPPER_CASE name or a literal (dict, list, number) is a constant and left out."""
    return name != name.upper() and isinstance(value, (ast.Lambda, ast.Call, ast.Name, ast.Attribute))


def definitions(path):
    """Public top-level definitions of the module at ``path``, in file order."""
    text = Path(path).read_text()
    lines = text.splitlines()
    out = {}
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            name, doc = node.name, ast.get_docstring(node)
            kind = "class" if isinstance(node, ast.ClassDef) else "def"
            start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if len(targets) != 1 or not isinstance(targets[0], ast.Name) or node.value is None:
                continue
            name, doc, kind, start = targets[0].id, None, "assign", node.lineno
            if not _is_function_value(name, node.value):
                continue
        else:
            continue
        if is_public(name):
            out[name] = Definition(name, kind, start, "\n".join(lines[start - 1:node.end_lineno]), doc)
    return out


def pair_up(ref, tf):
    """The reference's names in its order; a name only tfimpl has goes right after the name
    tfimpl defines before it (first, if there is none)."""
    order = list(ref)
    previous = None
    for name in tf:
        if name not in order:
            order.insert(order.index(previous) + 1 if previous is not None else 0, name)
        previous = name
    return [Pair(n, ref.get(n), tf.get(n)) for n in order]


def paired_modules(root):
    """Module names present in both reference/ and tfimpl/ (no private modules), sorted."""
    names = [{p.stem for p in (Path(root) / side).glob("*.py") if is_public(p.stem)} for side in SIDES]
    return sorted(names[0] & names[1]), sorted(names[0] - names[1]), sorted(names[1] - names[0])


def module_doc(path):
    return ast.get_docstring(ast.parse(Path(path).read_text())) or ""


# --- the catalog and the agreement report ------------------------------------------------

def catalog_file(concept):
    """tests/catalog/<topic>.py whose CATALOG holds ``concept``, or ''."""
    for topic in TOPICS:
        if any(c is concept for c in topic.CATALOG):
            return f"tests/catalog/{topic.__name__.rsplit('.', 1)[1]}.py"
    return ""


def _locate(fn, side, topics):
    module, name = getattr(fn, "__module__", "") or "", getattr(fn, "__name__", "")
    prefix = f"{side}."
    if module.startswith(prefix) and module[len(prefix):] in topics and name in topics[module[len(prefix):]]:
        return module[len(prefix):], name
    return None


def _by_name(name, hint, topics):
    if hint in topics and name in topics[hint]:
        return hint, name
    hits = [(m, name) for m in topics if name in topics[m]]
    return hits[0] if len(hits) == 1 else None


def catalog_index(concepts, topics):
    """(module, name) -> [(concept, role, file)], role "function" (the values) or "gradient"
    (the function is the concept's *_vjp). ``topics``: module -> set of public names."""
    out = {}
    for c in concepts:
        file = catalog_file(c)
        hint = Path(file).stem if file else (getattr(c.ref, "__module__", "") or "").rpartition(".")[2]
        primary = _locate(c.ref, "reference", topics) or _locate(c.tf, "tfimpl", topics) \
            or _by_name(c.name, hint, topics)
        if primary:
            out.setdefault(primary, []).append((c, "function", file))
        if getattr(c, "ref_vjp", None) is not None:
            grad = _locate(c.ref_vjp, "reference", topics) or _locate(c.tf_vjp, "tfimpl", topics) \
                or _by_name(f"{c.name}_vjp", hint, topics)
            if grad and grad != primary:
                out.setdefault(grad, []).append((c, "gradient", file))
    return out


def load_agreement(path):
    """concept -> rows of the agreement report, or None if there is no report file."""
    path = Path(path)
    if not path.is_file():
        return None
    rows = json.loads(path.read_text())
    out = {}
    for r in rows:
        out.setdefault(r["concept"], []).append(r)
    return out


# --- HTML ----------------------------------------------------------------------------------

e = html.escape


def code_html(source):
    """``source`` highlighted, one block per line; a line too long for its column wraps with a
    hanging indent four columns deeper than the line's own."""
    lines = source.split("\n")
    out = highlight(source, PythonLexer(stripnl=False, ensurenl=True), HtmlFormatter(nowrap=True)).split("\n")
    if out and out[-1] == "":
        out.pop()
    if len(out) != len(lines):  # never expected; plain text rather than misaligned indents
        out = [e(line) for line in lines]
    spans = []
    for src, hl in zip(lines, out):
        hang = len(src) - len(src.lstrip(" ")) + 4
        spans.append(f'<span class="line" style="padding-left:{hang}ch;text-indent:-{hang}ch">{hl}\n</span>')
    return f'<pre class="code">{"".join(spans)}</pre>'


def md_code(text):
    """Escape ``text`` and turn `backticks` and ``double backticks`` into <code>."""
    return re.sub(r"``?([^`]+)``?", r"<code>\1</code>", e(text))


def column(side, module, d, name, rel_root):
    path = f"{side}/{module}.py"
    if d is None:
        other = "tfimpl" if side == "reference" else "reference"
        return (f'<div class="col missing" data-side="{side}"><div class="colhead">{e(path)}</div>'
                f'<p class="absent">No <code>{e(name)}</code> in {e(path)}: {other} only.</p></div>')
    link = f"{rel_root}/{path}" if rel_root else path
    return (f'<div class="col" data-side="{side}"><div class="colhead"><a href="{e(link)}">{e(path)}</a>:{d.line}'
            f'</div>{code_html(d.source)}</div>')


def _tol_text(tol):
    model = getattr(tol, "model", None)
    if model is not None:
        name = getattr(model, "__name__", "")
        named = name.isidentifier() and name != "model"
        amount = (f"error model <code>{e(name)}</code>" if named else "an error model evaluated on the sample") + (
            f" &times; {tol.n_eps:g}" if tol.n_eps != 1 else "")
    else:
        amount = f"{tol.n_eps:g} eps" + (f" (relative to max(|ref|, {tol.floor:g}))" if getattr(tol, "floor", 0) else "")
    return amount, tol.why


def tolerances_html(tols, label):
    if not tols:
        return ""
    groups = {}
    for dtype, tol in tols.items():
        amount, why = _tol_text(tol)
        groups.setdefault((amount, why), []).append(dtype)
    items = "".join(f"<li>{e(', '.join(ds))}: {amount} &mdash; {md_code(why)}</li>" for (amount, why), ds in groups.items())
    return f'<div class="tols">{label} tolerances:<ul>{items}</ul></div>'


def catalog_html(concept, role, file, modes):
    dtypes = list(concept.dtypes)
    grads = concept.ref_vjp is not None and concept.tf_vjp is not None
    dt = f"{len(dtypes)} dtypes" + ("" if len(dtypes) == 4 else f" ({', '.join(dtypes)})")
    where = f' <span class="testid">{e(file)}</span>' if file else ""
    if role == "gradient":
        head = (f"the gradient of catalog entry <code>{e(concept.name)}</code>{where}: GradientTape against this "
                f"function and both against float64 finite differences, {dt} x {len(modes)} modes")
        body = tolerances_html(concept.grad_tol, "gradient")
    else:
        what = "values and gradients" if grads else "values"
        head = (f"catalog entry <code>{e(concept.name)}</code>{where}: checked in the whole matrix: {dt} x "
                f"{len(modes)} modes, {what}; {len(concept.edges)} edge cases, "
                f"{len(concept.bad_inputs)} bad input{'s' * (len(concept.bad_inputs) != 1)} rejected alike by both sides")
        body = tolerances_html(concept.tol, "value") + (tolerances_html(concept.grad_tol, "gradient") if grads else "")
        facts = [f"<li>[{e(k.path)}, {e(', '.join(k.dtypes))}; {e(', '.join(k.modes))}"
                 + (f"; TF {e(str(k.versions[0] or ''))}&ndash;{e(str(k.versions[1] or ''))}"
                    if any(getattr(k, 'versions', (None, None))) else "")
                 + f"] {md_code(k.why)}</li>" for k in getattr(concept, "kernel_facts", ())]
        if facts:
            body += f'<div class="tols">kernel facts (edge answers that differ by path or release):<ul>{"".join(facts)}</ul></div>'
    return f"<li>{head}{body}</li>"


def _num(x):
    return f"{x:.3g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else e(str(x))


def agreement_html(rows, modes):
    cells = {}
    for r in rows:
        cells.setdefault((r["check"], r["dtype"]), {})[r["mode"]] = r
    seen = [m for m in modes if any(m == r["mode"] for r in rows)]
    seen += sorted({r["mode"] for r in rows} - set(seen))
    head = "".join(f"<th>{e(m)}</th>" for m in seen)
    body = []
    for (check, dtype), by_mode in sorted(cells.items()):
        tols = [r["tolerance"] for r in by_mode.values() if isinstance(r["tolerance"], (int, float))]
        worst = [r["worst"] for r in by_mode.values() if isinstance(r["worst"], (int, float))]
        tol = max(tols) if tols else None
        used = "" if tol is None or not worst else (
            f"{max(worst) / tol:.0%}" if tol else ("exact" if max(worst) == 0 else "over"))
        tds = "".join(f"<td>{_num(by_mode[m]['worst']) if m in by_mode else '-'}</td>" for m in seen)
        body.append(f'<tr><td class="k">{e(check)}</td><td class="k">{e(dtype)}</td>{tds}'
                    f'<td>{_num(tol) if tol is not None else "-"}</td><td>{used}</td></tr>')
    return (f'<table class="agreement"><tr><th>check</th><th>dtype</th>{head}<th>tolerance</th><th>used</th></tr>'
            + "".join(body) + "</table>")


def page(title, nav, body):
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<title>{e(title)}</title>\n<link rel="stylesheet" href="{STYLESHEET}">\n</head>\n<body>\n'
            f'<nav class="top">{nav}</nav>\n{body}\n'
            f'<footer>Generated from the files in this tree by <code>python -m tools.sidebyside</code>; '
            f'run it again after editing them.</footer>\n</body>\n</html>\n')


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222;
       margin: 0 auto; padding: 10px 18px 30px; max-width: 1900px; }
a { color: #1a55a8; text-decoration: none; } a:hover { text-decoration: underline; }
code { font: 0.92em ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
nav.top { font-size: 13px; padding-bottom: 6px; border-bottom: 1px solid #ddd; }
nav.top a, nav.top b { margin-right: 12px; }
h1 { font-size: 22px; margin: 10px 0 4px; }
.note { color: #555; font-size: 13px; margin: 4px 0; }
.toc { font-size: 13px; margin: 6px 0 10px; }
.toc a { margin-right: 10px; white-space: nowrap; }
.toc .one { color: #888; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 14px; align-items: start; }
.col { min-width: 0; }
.colhead { font: 12px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; color: #444;
           padding: 3px 8px; border: 1px solid #c9d3e6; border-bottom: none; border-radius: 4px 4px 0 0;
           background: #e8eef9; }
.col[data-side="tfimpl"] .colhead { background: #fbeedd; border-color: #e6cfae; }
pre.code { margin: 0; padding: 6px 8px; background: #f8f8f8; border: 1px solid #ddd; border-radius: 0 0 4px 4px;
           font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; overflow-x: auto; }
pre.code .line { display: block; white-space: pre-wrap; overflow-wrap: anywhere; }
pre.doc { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; padding: 6px 8px; background: #fcfcfc;
          border: 1px solid #ddd; border-radius: 0 0 4px 4px; font: 12.5px/1.45 ui-monospace, "DejaVu Sans Mono",
          Menlo, Consolas, monospace; color: #333; }
.absent { margin: 0; padding: 12px; border: 1px dashed #bbb; border-radius: 0 0 4px 4px; color: #666;
          font-style: italic; background: #fafafa; }
section.pair { border-top: 2px solid #d5d5d5; margin-top: 20px; padding-top: 4px; }
section.pair h2 { font-size: 18px; margin: 4px 0; }
section.pair h2 .badges { font-size: 12px; font-weight: normal; color: #666; margin-left: 8px; }
.formula { margin: 4px 0 8px; padding: 5px 10px; border-left: 3px solid #7b8cc4; background: #f4f6fb;
           font: 13px/1.45 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.facts { font-size: 13px; margin-top: 8px; }
.facts h3 { font-size: 13px; margin: 10px 0 2px; color: #333; }
.facts ul { margin: 2px 0; padding-left: 22px; }
.facts li { margin: 3px 0; }
.facts .none { color: #777; }
.testid { color: #777; font: 11.5px ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; }
.sides { font-family: system-ui, sans-serif; }
.claim { margin: 2px 0; padding: 2px 8px; border-left: 3px solid #3a9a4a; background: #f1f8f2; }
.claim.corrected { border-color: #c99a1c; background: #fbf6e6; }
.claim.changed { border-color: #4a78b0; background: #eef3fa; }
.claim.wrong { border-color: #c0392b; background: #fbeceb; }
.tols ul { margin: 1px 0 2px; }
table.agreement, table.topics { border-collapse: collapse; font-size: 12.5px; margin: 4px 0; }
table.agreement th, table.agreement td, table.topics th, table.topics td { border: 1px solid #ddd; padding: 2px 8px; }
table.agreement td { text-align: right; font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; }
table.agreement td.k { text-align: left; }
table.topics td { vertical-align: top; }
table.topics td.n { text-align: right; }
table.topics td.s { white-space: nowrap; }
table.topics td.ch { min-width: 14em; }
table.topics td.ch .also { color: #777; }
th { background: #f0f0f0; }
footer { margin-top: 30px; color: #888; font-size: 12px; }
@media (max-width: 900px) { .cols { grid-template-columns: minmax(0, 1fr); } }
"""


# --- the pages ------------------------------------------------------------------------------

@dataclass
class Topic:
    module: str
    pairs: list
    docs: tuple
    """The module docstrings: (reference's, tfimpl's)."""
    facts: list
    """The tests of tests/test_<module>.py."""


@dataclass
class Context:
    """What every page shares: the named facts of all topics, the catalog and the report."""
    topics: list
    facts: list
    checked: dict
    modes: tuple
    report: dict | None
    report_name: str
    note: str
    rel_root: str

    def nav(self, current):
        """index, then the topics in the book's order, each titled with its chapter."""
        def title(name):
            c = primary_chapter(name)
            return f' title="chapter {e(c.label)}: {e(c.title)}"' if c else ""
        return " ".join(f"<b>{e(name)}</b>" if name == current else f'<a href="{e(name)}.html"{title(name)}>{e(name)}</a>'
                        for name in ["index"] + [t.module for t in self.topics])


def fact_item(fact, key=None):
    """One named fact as a list item; ``key`` (module, name): the function it is listed under."""
    title = f' title="{e(fact.doc)}"' if fact.doc else ""
    parts = [f'<li><span class="fact"{title}>{md_code(fact.sentence)}</span>']
    if fact.claim:
        c = fact.claim
        since = f" {c.since}" if c.verdict == "changed" else ""
        parts.append(f'<div class="claim {e(c.verdict)}">Claim ({e(c.source)}, {e(c.reference)}): '
                     f'&ldquo;{md_code(c.statement)}&rdquo; &mdash; <b>{e(claims.VERDICTS[c.verdict] + since)}</b>'
                     + (f": {md_code(c.correction)}" if c.correction else "") + "</div>")
    how = ""
    if key is not None:
        m = fact.mentions[key]
        via = f" through {', '.join(f'<code>{e(h)}</code>' for h in sorted(m['via']))}" if m["via"] else ""
        how = f' <span class="sides">({e(" and ".join(s for s in SIDES if s in m["sides"]))}{via})</span>'
    parts.append(f'<div class="testid">{e(fact.test)}{how}</div></li>')
    return "".join(parts)


def pair_section(ctx, module, p):
    key = (module, p.name)
    named = [f for f in ctx.facts if key in f.mentions]
    entries = ctx.checked.get(key, [])
    badges = []
    if entries:
        badges.append("catalog" if any(r == "function" for _, r, _ in entries) else "catalog (gradient)")
    if named:
        badges.append(f"{len(named)} named fact{'s' * (len(named) != 1)}")
    if not (p.ref and p.tf):
        badges.append("reference only" if p.ref else "tfimpl only")
    facts = "".join(fact_item(f, key) for f in named) or '<li class="none">none</li>'
    catalog = "".join(catalog_html(c, r, file, ctx.modes) for c, r, file in entries)
    agreement = ""
    for c, r, _ in entries:
        if r != "function":
            continue
        if ctx.report is not None and ctx.report.get(c.name):
            agreement += (f"<h3>Agreement report: <code>{e(c.name)}</code></h3>"
                          f"{agreement_html(ctx.report[c.name], ctx.modes)}")
        else:
            missing = "" if ctx.report is None else f"no rows for <code>{e(c.name)}</code> in {e(ctx.report_name)}; "
            agreement += f'<p class="note">Agreement: {missing}{md_code(AGREEMENT_HINT)}.</p>'
    return (f'<section class="pair" id="{e(p.name)}">\n'
            f'<h2><code>{e(p.name)}</code><span class="badges">{e(" · ".join(badges))}</span></h2>\n'
            + (f'<p class="formula">{md_code(p.formula)}</p>\n' if p.formula else "")
            + f'<div class="cols">\n{column("reference", module, p.ref, p.name, ctx.rel_root)}\n'
            f'{column("tfimpl", module, p.tf, p.name, ctx.rel_root)}\n</div>\n'
            f'<div class="facts">\n<h3>Named facts</h3><ul>{facts}</ul>\n'
            + (f"<h3>Catalog</h3><ul>{catalog}</ul>\n" if catalog else "")
            + f"{agreement}</div>\n</section>")


def chapter_note(module):
    """The book's chapters the module checks, its primary one first; '' if the map does not know it."""
    found = chapters_of(module)
    if not found:
        return ""
    primary = primary_chapter(module)
    ordered = [primary] * (primary is not None) + [c for c in found if c is not primary]
    return ('<p class="note chapter">The book (second edition): '
            + "; ".join(f"<b>{e(c.label)}</b> {e(c.title)}" for c in ordered) + ".</p>")


def topic_page(ctx, t):
    toc = " ".join(f'<a href="#{e(p.name)}"' + ("" if p.ref and p.tf else ' class="one"') + f">{e(p.name)}"
                   + ("" if p.ref and p.tf else f" ({'reference' if p.ref else 'tfimpl'} only)") + "</a>"
                   for p in t.pairs)
    docs = "".join(f'<div class="col" data-side="{side}-module"><div class="colhead">{side}/{e(t.module)}.py</div>'
                   f'<pre class="doc">{e(doc)}</pre></div>' for side, doc in zip(SIDES, t.docs))
    body = [f"<h1>{e(t.module)}: <code>reference/{e(t.module)}.py</code> beside "
            f"<code>tfimpl/{e(t.module)}.py</code></h1>",
            chapter_note(t.module),
            f'<div class="cols">{docs}</div>',
            f'<p class="note">{ctx.note}</p>',
            f'<div class="toc">{toc}</div>']
    body += [pair_section(ctx, t.module, p) for p in t.pairs]
    functions = {(t2.module, p.name) for t2 in ctx.topics for p in t2.pairs}
    loose = [f for f in t.facts if not functions & set(f.mentions)]
    if loose:
        body.append(f'<section class="loose"><h2>Other named facts in tests/test_{e(t.module)}.py</h2>'
                    f'<p class="note">These tests call no function of the pairs: they pin TensorFlow itself.</p>'
                    f'<div class="facts"><ul>{"".join(fact_item(f) for f in loose)}</ul></div></section>')
    return page(f"{t.module}: side by side", ctx.nav(t.module), "\n".join(body))


def chapter_html(module):
    """The module's primary chapter, with the other chapters that use it: '4.1 forward
    propagation, ... (also 4.3)'; '-' for a module the chapter map does not know."""
    primary = primary_chapter(module)
    if primary is None:
        return '<td class="ch">-</td>'
    others = [c.label for c in chapters_of(module) if c is not primary]
    also = f'<span class="also"> (also {e(", ".join(others))})</span>' if others else ""
    return f'<td class="ch"><b>{e(primary.label)}</b> {e(primary.title)}{also}</td>'


def index_page(ctx, unpaired):
    """The topics in the book's order, each beside its chapter; a module with no twin that the
    chapter map knows (TensorFlow machinery: graph, devices) stands in its chapter's place, with
    no page; others with no twin are listed under the table."""
    known = {m: (side, other, doc) for side, other, m, doc in unpaired if primary_chapter(m) is not None}
    topics = {t.module: t for t in ctx.topics}
    rows = []
    for module in book_order([*topics, *known]):
        if module in known:
            side, other, doc = known[module]
            rows.append(f'<tr>{chapter_html(module)}<td><code>{e(module)}</code></td><td class="n">-</td>'
                        f'<td class="s">{e(side)} only: no {e(other)} twin, no page</td><td class="n">-</td>'
                        f'<td class="n">-</td><td>{md_code(first_paragraph(doc))}</td></tr>')
            continue
        t = topics[module]
        counts = [(sum(p.ref is not None and p.tf is not None for p in t.pairs), "in both"),
                  (sum(p.tf is None for p in t.pairs), "reference only"),
                  (sum(p.ref is None for p in t.pairs), "tfimpl only")]
        sides = "; ".join(f"{n} {what}" for n, what in counts if n)
        catalog = {id(c) for p in t.pairs for c, r, _ in ctx.checked.get((t.module, p.name), []) if r == "function"}
        rows.append(f'<tr>{chapter_html(module)}<td><a href="{e(t.module)}.html">{e(t.module)}</a></td>'
                    f'<td class="n">{len(t.pairs)}</td><td class="s">{sides}</td><td class="n">{len(catalog)}</td>'
                    f'<td class="n">{len(t.facts)}</td><td>{md_code(first_paragraph(t.docs[0]))}</td></tr>')
    lonely = "".join(f"<li><code>{side}/{e(m)}.py</code> has no twin in {other}/</li>"
                     for side, other, m, _ in unpaired if m not in known)
    body = ("<h1>tfref side by side</h1>\n"
            '<p class="note">Each page puts a <code>reference/</code> module (NumPy, formula first) beside its '
            "<code>tfimpl/</code> twin (TensorFlow), function by function in the reference's order, with the "
            "formula, the named facts the tests pin for each function, its catalog entry and tolerances. "
            "The modules follow the book's chapters (second edition, 2018; the first edition's number in "
            "brackets where it differs), each at its primary chapter (<code>tests/chapters.py</code>). "
            f"{ctx.note}</p>\n"
            '<table class="topics"><tr><th>chapter</th><th>topic</th><th>functions</th><th>sides</th>'
            '<th>catalog entries</th><th>named facts</th><th>module</th></tr>'
            f'{"".join(rows)}</table>\n'
            + (f"<p>Not paired:</p><ul>{lonely}</ul>" if lonely else ""))
    return page("tfref side by side", ctx.nav("index"), body)


def build(out=DEFAULT_OUT, root=ROOT, *, concepts="load", agreement=None):
    """Write the pages into ``out``; returns {module: [function names in page order]}.

    ``concepts``: "load" imports tests.catalog (TensorFlow); None leaves the catalog out; or a
    list of Concept-like objects. ``agreement``: a report JSON file; default
    ``<root>/build/agreement.json``."""
    root, out = Path(root).resolve(), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    modules, ref_only, tf_only = paired_modules(root)
    modules = book_order(modules)
    facts = []
    for m in modules:
        path = root / "tests" / f"test_{m}.py"
        if path.is_file():
            facts += named_facts(path, f"tests/test_{m}.py")
    topics = [Topic(m, pair_up(*(definitions(root / side / f"{m}.py") for side in SIDES)),
                    tuple(module_doc(root / side / f"{m}.py") for side in SIDES),
                    [f for f in facts if f.test.startswith(f"tests/test_{m}.py::")]) for m in modules]

    modes, notes = tuple(MODES), []
    if concepts == "load":
        concepts = list(CATALOG)
    elif concepts is None:
        notes.append("The catalog is left out of this build (--no-catalog).")
    checked = catalog_index(concepts or [], {t.module: {p.name for p in t.pairs} for t in topics})

    agreement = Path(agreement).resolve() if agreement else root / AGREEMENT
    report = load_agreement(agreement)
    report_name = str(agreement.relative_to(root)) if root in agreement.parents else str(agreement)
    if report is None:
        notes.insert(0, f"No agreement report ({e(report_name)} is absent): {md_code(AGREEMENT_HINT)}.")
    else:
        notes.insert(0, f"Agreement rows from <code>{e(report_name)}</code>, as the last "
                        f"<code>--agreement-report</code> run wrote them.")
    ctx = Context(topics, facts, checked, tuple(modes), report, report_name, " ".join(notes),
                  os.path.relpath(root, out.resolve()))
    for t in topics:
        (out / f"{t.module}.html").write_text(topic_page(ctx, t))
    unpaired = [("reference", "tfimpl", m, module_doc(root / "reference" / f"{m}.py")) for m in ref_only] \
        + [("tfimpl", "reference", m, module_doc(root / "tfimpl" / f"{m}.py")) for m in tf_only]
    (out / "index.html").write_text(index_page(ctx, unpaired))
    (out / STYLESHEET).write_text(HtmlFormatter(style="default").get_style_defs("pre.code") + "\n" + CSS)
    return {t.module: [p.name for p in t.pairs] for t in topics}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m tools.sidebyside", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    parser.add_argument("--agreement", default=None, help=f"agreement report JSON (default {AGREEMENT})")
    parser.add_argument("--no-catalog", action="store_true",
                        help="leave the catalog entries out of the pages")
    args = parser.parse_args(argv)
    written = build(args.out, concepts=None if args.no_catalog else "load", agreement=args.agreement)
    n = sum(len(v) for v in written.values())
    print(f"wrote {Path(args.out) / 'index.html'} and {len(written)} pages ({n} functions): "
          + ", ".join(f"{m} ({len(v)})" for m, v in written.items()))


if __name__ == "__main__":
    main()

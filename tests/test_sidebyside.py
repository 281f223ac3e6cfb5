"""The side-by-side pages (tools/sidebyside.py): every public function of every module pair stands
on its topic's page with both columns, in the reference's order; the index links every page; no
JavaScript and nothing fetched from the network; the index and the navigation go in the book's
order (tests/chapters.py). What each function is expected to be is worked out here independently
of the generator: by importing the modules, not by parsing them."""
import importlib
import inspect
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.catalog.concept import Concept, Tol
from tests.chapters import CHAPTERS
from tools import sidebyside

ROOT = Path(__file__).resolve().parent.parent
VOID = {"meta", "link", "br", "img", "hr", "input", "wbr", "col", "area", "base", "source"}


class Page(HTMLParser):
    """The parts of a written page the checks read: per <section class="pair" id=NAME>, the text
    of each column (data-side="reference" / "tfimpl"), whether it says the function is absent,
    the formula and the whole section's text; every href/src; every tag name."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.sections, self.urls, self.tags, self.loose = [], {}, [], set(), ""
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.urls += [v for k, v in attrs if k in ("href", "src") and v is not None]
        if tag == "section" and "pair" in a.get("class", "").split():
            self.sections[a["id"]] = {"reference": None, "tfimpl": None, "absent": set(), "formula": "", "text": ""}
        if tag not in VOID:
            self.stack.append((tag, a))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def _inside(self, tag, cls=None, attr=None):
        for t, a in reversed(self.stack):
            if t == tag and (cls is None or cls in a.get("class", "").split()) and (attr is None or attr in a):
                return a
        return None

    def handle_data(self, data):
        if self._inside("section", "loose"):
            self.loose += data
        section = self._inside("section", "pair")
        if section is None:
            return
        s = self.sections[section["id"]]
        s["text"] += data
        if self._inside("p", "formula"):
            s["formula"] += data
        col = self._inside("div", "col", "data-side")
        if col is None:
            return
        side = col["data-side"]
        if self._inside("pre", "code"):
            s[side] = (s[side] or "") + data
        if self._inside("p", "absent"):
            s["absent"].add(side)


class Rows(HTMLParser):
    """The text of each cell of each row of <table class="topics">, and the links of <nav>."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.rows, self.nav, self.table, self.cell, self.in_nav = [], [], False, None, False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "topics" in a.get("class", "").split():
            self.table = True
        elif self.table and tag == "tr":
            self.rows.append([])
        elif self.table and tag in ("td", "th"):
            self.cell = ""
        elif tag == "nav":
            self.in_nav = True
        elif self.in_nav and tag == "a":
            self.nav.append(a["href"])

    def handle_endtag(self, tag):
        if tag == "table":
            self.table = False
        elif self.table and tag in ("td", "th"):
            self.rows[-1].append(" ".join(self.cell.split()))
            self.cell = None
        elif tag == "nav":
            self.in_nav = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def header(name):
    """The line that defines ``name``: def name(, class name, or name = ...."""
    return re.compile(rf"^(?:async\s+def|def|class)\s+{name}\b|^{name}\s*(?::[^=]*)?=", re.M)


def paired_modules():
    names = [{p.stem for p in (ROOT / side).glob("*.py") if not p.stem.startswith("_")}
             for side in ("reference", "tfimpl")]
    return sorted(names[0] & names[1])


def public_functions(module):
    """Public callables defined in ``module`` (functions, classes, decorated or made by a call such
    as vjp(f)), by name: imported names have another __module__ and are left out."""
    mod = importlib.import_module(module)
    return {n: obj for n, obj in vars(mod).items()
            if not n.startswith("_") and callable(obj) and getattr(obj, "__module__", None) == module}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("sidebyside")
    return out, sidebyside.build(out, ROOT)


def test_every_function_of_every_module_pair_stands_in_both_columns_in_the_reference_order(built):
    out, written = built
    assert sorted(written) == paired_modules()
    for module in paired_modules():
        page = Page((out / f"{module}.html").read_text())
        ref, tf = public_functions(f"reference.{module}"), public_functions(f"tfimpl.{module}")
        assert ref and tf, module
        for name in sorted(set(ref) | set(tf)):
            assert name in page.sections, f"{module}.html has no section for {name}"
            s = page.sections[name]
            for side, defined in (("reference", ref), ("tfimpl", tf)):
                if name in defined:
                    assert s[side] and header(name).search(s[side]), \
                        f"{module}.html, {name}: the {side} column does not show its definition: {s[side]!r}"
                elif not hasattr(importlib.import_module(f"{side}.{module}"), name):
                    assert side in s["absent"], f"{module}.html, {name}: the {side} column should say it is absent"
        # the reference's functions in the order the reference defines them (those whose source
        # inspect finds under their own name: a function made by a call has its maker's lines)
        lines = {n: inspect.getsourcelines(inspect.unwrap(f))[1] for n, f in ref.items()
                 if getattr(inspect.unwrap(f), "__name__", None) == n}
        on_page = [n for n in page.sections if n in lines]
        assert on_page == sorted(lines, key=lines.get), f"{module}.html is not in the reference's order"
        assert not [n for n in page.sections if n.startswith("_")], f"{module}.html shows a private helper"


def test_the_index_links_every_page_and_nothing_runs_or_loads_from_the_network(built):
    out, written = built
    index = Page((out / "index.html").read_text())
    for module in paired_modules():
        assert f"{module}.html" in index.urls, f"index.html does not link {module}.html"
        assert (out / f"{module}.html").is_file()
    for path in out.iterdir():
        text = path.read_text()
        assert "<script" not in text.lower(), f"{path.name} has a script"
        if path.suffix == ".html":
            page = Page(text)
            assert not {"script", "iframe", "object", "embed"} & page.tags, path.name
            remote = [u for u in page.urls if re.match(r"^(?:[a-z]+:)?//", u, re.I)]
            assert not remote, f"{path.name} loads or links {remote}: the pages must work offline"
            assert not re.search(r"\son[a-z]+\s*=", re.sub(r"<pre.*?</pre>", "", text, flags=re.S)), path.name


def test_the_index_lists_the_modules_in_the_books_order_each_beside_its_chapter(built):
    out, _ = built
    page = Rows((out / "index.html").read_text())
    head, *rows = page.rows
    assert head[:2] == ["chapter", "topic"]
    exists = {p.stem for side in ("reference", "tfimpl") for p in (ROOT / side).glob("*.py")}
    book = [(c, m) for c in CHAPTERS for m in c.modules if m in exists]  # each module at its primary chapter
    assert [r[1] for r in rows] == [m for _, m in book], "index.html is not in the book's order"
    for (chapter, module), row in zip(book, rows):
        assert row[0].startswith(f"{chapter.label} {chapter.title}"), f"{module}: chapter cell {row[0]!r}"
        others = [c.label for c in CHAPTERS if module in c.also]
        assert ("(also " + ", ".join(others) + ")" in row[0]) if others else "also" not in row[0], row[0]
    paired = paired_modules()
    assert page.nav == [f"{m}.html" for _, m in book if m in paired], \
        "the navigation is not in the book's order"


# --- a tree made up here, so each rule is checked on known input ---------------------------

TOY = {
    "reference/toy.py": '''
"""Toy reference."""
from reference._checks import in_float64

SCALE = 2


@in_float64
def double(x):
    """double(x) = 2 x.

    A second paragraph, not part of the formula."""
    return SCALE * x


def _helper(x):
    return x


def triple_v1(x):
    """triple(x) = 3 x, the TF1 way."""
    return 3 * _helper(x)


def double_vjp(x, dy):
    """d double / dx = 2."""
    return 2 * dy
''',
    "tfimpl/toy.py": '''
"""Toy TensorFlow."""
import tensorflow as tf

from tfimpl._autodiff import vjp

ACTIVATIONS = {None: tf.identity}


def double(x):
    """tf.multiply(2, x)."""
    return tf.multiply(2, x)


def half(x):
    return x / 2


double_vjp = vjp(double)
''',
    "reference/lonely.py": '"""Not paired."""\n',
    "tests/test_toy.py": '''
import pytest

import reference.toy as R
import tfimpl.toy as T
from reference.toy import triple_v1 as ref_triple


def doubled(x):
    return R.double(x)


@pytest.mark.claim("ch4.1", "doubling doubles", source="book", page=12, verdict="corrected",
                   correction="it doubles `twice`")
def test_double_agrees_on_both_sides():
    assert R.double(1) == T.double(1)


def test_through_a_helper_only():
    assert doubled(1) == 2


def test_triple_by_its_imported_name():
    assert ref_triple(1) == 3


def test_tensorflow_itself():
    assert 1 + 1 == 2
''',
}


def toy_concept():
    def fake(module, name):
        def f(*args):
            return None
        f.__module__, f.__name__ = module, name
        return f
    return Concept(name="double", ref=fake("reference.toy", "double"), tf=fake("tfimpl.toy", "double"),
                   strategy=lambda: None, tol={"float32": Tol(2, "two roundings, the toy's budget")},
                   ref_vjp=fake("reference.toy", "double_vjp"), tf_vjp=fake("tfimpl.toy", "double_vjp"),
                   grad_tol={"float32": Tol(0, "a doubling is exact")})


@pytest.fixture
def toy(tmp_path):
    root = tmp_path / "tree"
    for rel, text in TOY.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text.lstrip("\n"))
    return root


def test_a_made_up_pair_shows_one_sided_functions_facts_claims_catalog_and_agreement(toy, tmp_path):
    written = sidebyside.build(tmp_path / "out", toy, concepts=[toy_concept()])
    assert written == {"toy": ["double", "half", "triple_v1", "double_vjp"]}  # half after double, as in tfimpl
    page = Page((tmp_path / "out" / "toy.html").read_text())
    assert list(page.sections) == written["toy"]
    s = page.sections
    assert s["half"]["absent"] == {"reference"} and header("half").search(s["half"]["tfimpl"])
    assert s["triple_v1"]["absent"] == {"tfimpl"} and header("triple_v1").search(s["triple_v1"]["reference"])
    assert "double_vjp = vjp(double)" in s["double_vjp"]["tfimpl"]
    assert "@in_float64" in s["double"]["reference"]
    assert s["double"]["formula"] == "double(x) = 2 x."
    assert "Double agrees on both sides" in s["double"]["text"]
    assert "Claim (book, 2nd ed. (2018), ch. 4.1, p. 12" in s["double"]["text"], s["double"]["text"]
    assert "doubling doubles" in s["double"]["text"]
    assert "holds, with a missing detail" in s["double"]["text"] and "twice" in s["double"]["text"]
    assert "Through a helper only" in s["double"]["text"] and "through doubled" in s["double"]["text"]
    assert "Triple by its imported name" in s["triple_v1"]["text"]
    assert "Tensorflow itself" in page.loose and "Tensorflow itself" not in s["double"]["text"]
    assert "catalog entry double" in s["double"]["text"] and "two roundings, the toy's budget" in s["double"]["text"]
    assert "the gradient of catalog entry double" in s["double_vjp"]["text"]
    assert "run pytest tests/test_catalog.py --agreement-report to add the agreement rows" in s["double"]["text"]
    index = (tmp_path / "out" / "index.html").read_text()
    assert 'href="toy.html"' in index and "reference/lonely.py" in index

    report = tmp_path / "agreement.json"
    report.write_text(json.dumps([{"concept": "double", "check": "value", "dtype": "float32", "mode": mode,
                                   "worst": 0.123 if mode == "xla" else 0.0, "tolerance": 2} for mode in
                                  ("eager", "function", "xla", "graph")]))
    sidebyside.build(tmp_path / "out", toy, concepts=[toy_concept()], agreement=report)
    text = Page((tmp_path / "out" / "toy.html").read_text()).sections["double"]["text"]
    assert "Agreement report: double" in text and "0.123" in text and "6%" in text
    assert "--agreement-report to add" not in text

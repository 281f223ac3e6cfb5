"""Claims: which test answers which statement, whose statement it is, and what the test shows.

A test that answers a statement carries a claim marker naming the statement's source:

    @pytest.mark.claim("ch4.4.3", "the moving-average decay is min(decay, (1 + n) / (10 + n))",
                       source="book", page=91)

and, where the statement is not simply right, a verdict and a correction:

    @pytest.mark.claim("ch3.1", "tf.get_variable('v', initializer=tf.zeros_initializer(shape=[1]))",
                       source="book", edition="1st", verdict="changed", since="TF 1.0",
                       correction="zeros_initializer takes no shape since TF 1.0: ...")

Sources (``source=``, required):

    book    the book's own text (as the reader's notes give it) or its official example code
            (caicloud/tensorflow-tutorial: Deep_Learning_with_TensorFlow/1.4.0 for the second
            edition, 0.12.1 for the first), cited with ``code=`` where the code shows it
    notes   the reader's notes (the concept list comes from them) where they differ from the
            book: a typo, two snippets set side by side
    port    what changes from TF1 to TF2: tfref's own statement, so it holds or it is rewritten
    docs    a statement of TensorFlow's guide or API docs

Verdicts (``verdict=``, default "holds"), fair to a 2017-2018 book:

    holds       right, as stated
    corrected   right, with a missing detail (``correction`` gives it)
    changed     right for the TensorFlow the book used, different now: ``since`` names the first
                release that differs ("TF 2.0"), ``correction`` says what it does now
    wrong       wrong in its own TensorFlow version (TF 1.4 for the second edition, 0.12 for the
                first); ``correction`` says what is right

``where`` is the chapter or section, second-edition numbering ("ch12.3"; the first edition's
number is shown beside it where it differs), or for a docs claim the document ("guide", "api").
A book claim may give ``edition`` ("2nd", the default; "1st"; "both"), ``page`` (the page the
reader's notes cite, edition not verified) and ``code`` (the official example file and cell or
lines that show it); a notes claim may give ``page``.

``parse`` is the one parser (conftest.py's collection hook and tools/sidebyside.py use it): an
invalid marker fails the collection. ``collected`` turns collected items into the rows of the
committed table (docs/claims.md: ``document``); ``table`` folds a run's reports into the rows of
the run's table (build/claims.md and the terminal: ``markdown``, ``text``), where a skipped test
shows "not run here (reason)", never a verdict. ``marked_tests`` finds the claim-marked tests in
the source, to tell a run that collected every claim from one that did not.

A leaf of the checking core: it imports only tests/chapters.py, and nothing of pytest's hooks.
"""
from __future__ import annotations

import ast
import json
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from tests.chapters import CHAPTERS

SOURCES = {
    "book": "the book's claims",
    "notes": "the reader's notes, where they differ from the book",
    "port": "porting to TF2: tfref's own statements",
    "docs": "TensorFlow's guide and API docs",
}
"""Source -> the heading of its group in the table, in the table's order."""

VERDICTS = {
    "holds": "holds",
    "corrected": "holds, with a missing detail",
    "changed": "right for the book's TensorFlow, changed since",
    "wrong": "wrong",
}
"""verdict= -> the words the tables show (the legend says what each means)."""

DOCS = {
    "guide": "the TensorFlow guide, tf.data: Build TensorFlow input pipelines (tensorflow.org/guide/data)",
    "gpu-guide": "the TensorFlow guide, Use a GPU (tensorflow.org/guide/gpu), and TF1's Using GPUs",
    "api": "the TensorFlow API docs (the docstrings of the installed TensorFlow)",
}
"""A docs claim's ``where``: the document it quotes."""

EDITIONS = {"2nd": "2nd ed. (2018)", "1st": "1st ed. (2017)", "both": "both editions"}

RELEASE = re.compile(r"TF \d+\.\d+")
"""``since``: the first TensorFlow release that differs, "TF 1.0", "TF 2.16"."""

GPU_ONLY = "needs a GPU"
"""The committed table's reason for a claim whose test is marked gpu: it is generated on a
machine without one, and must not change on a machine with one."""

KEYWORDS = {"where", "statement", "source", "verdict", "correction", "since", "page", "edition", "code"}


@dataclass(frozen=True)
class Claim:
    where: str
    statement: str
    source: str
    verdict: str = "holds"
    correction: str = ""
    since: str = ""
    page: int | None = None
    edition: str = ""
    code: str = ""

    def as_dict(self):
        """Plain values: a report's user_properties cross pytest-xdist workers."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})

    @property
    def chapter(self):
        """"12.3 [1st ed.: 10.3]": the chapter in second-edition numbering, the first edition's
        beside it where it differs; "" for a docs claim."""
        return "" if self.source == "docs" else chapter_label(self.where)

    @property
    def reference(self):
        """Where the statement is: edition, chapter, page, official code; or the document."""
        if self.source == "docs":
            return DOCS[self.where]
        parts = []
        if self.source == "book":
            parts.append(EDITIONS[self.edition or "2nd"])
        parts.append(f"ch. {self.chapter}")
        if self.page is not None:
            parts.append(f"p. {self.page} (as the notes cite it)")
        if self.code:
            parts.append(f"official code: {self.code}")
        elif self.source == "book":
            parts.append("text, as the notes give it")
        return ", ".join(parts)

    @property
    def verdict_text(self):
        text = VERDICTS[self.verdict] + (f" {self.since}" if self.verdict == "changed" else "")
        return text + (f": {self.correction}" if self.correction else "")


def _first_edition_chapters():
    """{"12": "10"}: the chapters the first edition numbers differently (tests/chapters.py)."""
    return {c.number.split(".")[0]: c.first_edition.split(".")[0] for c in CHAPTERS if c.first_edition}


def _chapter_number(where):
    m = re.fullmatch(r"ch(\d+(?:\.\d+)*)", where)
    return m.group(1) if m else None


def chapter_label(where):
    """"ch12.3" -> "12.3 [1st ed.: 10.3]"; "ch4.2.1" -> "4.2.1"."""
    number = _chapter_number(where)
    top, _, rest = number.partition(".")
    first = _first_edition_chapters().get(top)
    return number + (f" [1st ed.: {first}{'.' + rest if rest else ''}]" if first else "")


def parse(args, kwargs, test):
    """The Claim a marker's arguments state, validated. ``test`` names the test in the error an
    invalid marker raises (a ValueError: the collection fails)."""
    args, kwargs = list(args), dict(kwargs)
    if len(args) > 2:
        raise ValueError(f"{test}: a claim takes where and statement positionally, got {args!r}")
    unknown = set(kwargs) - KEYWORDS
    if unknown:
        raise ValueError(f"{test}: unknown claim keyword(s) {sorted(unknown)}; known: {sorted(KEYWORDS)}")
    where = args[0] if args else kwargs.pop("where", None)
    statement = args[1] if len(args) > 1 else kwargs.pop("statement", None)
    if not where or not statement:
        raise ValueError(f"{test}: a claim needs where and statement, got {args!r} {kwargs!r}")
    source = kwargs.get("source")
    if source not in SOURCES:
        raise ValueError(f"{test}: a claim needs source= one of {sorted(SOURCES)}, got {source!r}")
    verdict = kwargs.get("verdict", "holds")
    if verdict not in VERDICTS:
        raise ValueError(f"{test}: claim verdict must be one of {sorted(VERDICTS)}, got {verdict!r}")
    correction, since = kwargs.get("correction", ""), kwargs.get("since", "")
    if verdict != "holds" and not correction:
        raise ValueError(f"{test}: a claim with verdict {verdict!r} needs a correction")
    if verdict == "changed" and not (isinstance(since, str) and RELEASE.fullmatch(since)):
        raise ValueError(f"{test}: a 'changed' claim names the first release that differs, since='TF 2.0', "
                         f"got {since!r}")
    if since and verdict != "changed":
        raise ValueError(f"{test}: since= goes with verdict='changed' only, not {verdict!r}")
    if source == "port" and verdict != "holds":
        raise ValueError(f"{test}: a port claim is tfref's own statement: state it so that it holds "
                         f"(got verdict {verdict!r})")
    if source == "docs":
        if where not in DOCS:
            raise ValueError(f"{test}: a docs claim's where is one of {sorted(DOCS)}, got {where!r}")
    else:
        number = _chapter_number(where)
        known = {c.number.split(".")[0] for c in CHAPTERS}
        if number is None or number.split(".")[0] not in known:
            raise ValueError(f"{test}: where must be a chapter of tests/chapters.py in second-edition numbering, "
                             f"'ch4.2.1' (the chapters: {sorted(known, key=int)}), got {where!r}")
    page, edition, code = kwargs.get("page"), kwargs.get("edition", ""), kwargs.get("code", "")
    if page is not None and (source not in ("book", "notes") or not isinstance(page, int)):
        raise ValueError(f"{test}: page= is a page number of a book or notes claim, got {page!r} ({source})")
    if (edition or code) and source != "book":
        raise ValueError(f"{test}: edition= and code= belong to book claims, not {source!r}")
    if edition and edition not in EDITIONS:
        raise ValueError(f"{test}: edition must be one of {sorted(EDITIONS)}, got {edition!r}")
    return Claim(where, statement, source, verdict, correction, since, page, edition or ("2nd" if source == "book"
                                                                                        else ""), code)


def claim_of(item):
    """The parsed claim marker of a test item, or None."""
    marker = item.get_closest_marker("claim")
    return None if marker is None else parse(marker.args, marker.kwargs, item.nodeid)


def test_of(nodeid):
    """A test's id without its parameters: the table has one row per test function."""
    return nodeid.split("[")[0]


# --- the committed table: the markers, by collection alone -------------------------------------

def collected(items):
    """One row per claim-marked test function among the collected ``items`` (parametrized cases
    folded): the claim's fields, the test, and whether it needs a GPU (marked gpu)."""
    rows = {}
    for item in items:
        claim = claim_of(item)
        if claim is not None:
            gpu = item.get_closest_marker("gpu") is not None
            row = rows.setdefault(test_of(item.nodeid), dict(claim.as_dict(), test=test_of(item.nodeid), gpu=gpu))
            row["gpu"] = row["gpu"] and gpu
    return list(rows.values())


def _where_key(where):
    numbers = tuple(int(n) for n in re.findall(r"\d+", where))
    return (1, (), where) if not numbers else (0, numbers, where)


def numbered(rows):
    """The rows in table order (source, then chapter, then test), each with its id: where/n,
    numbered within its where in that order."""
    rank = {s: i for i, s in enumerate(SOURCES)}
    ordered = sorted(rows, key=lambda r: (rank[r["source"]], _where_key(r["where"]), r["test"]))
    counters, out = {}, []
    for r in ordered:
        counters[r["where"]] = counters.get(r["where"], 0) + 1
        out.append(dict(r, id=f"{r['where']}/{counters[r['where']]}"))
    return out


def counts(rows, verdict_of=lambda r: r["verdict"]):
    """{source: {verdict: n}} in table order, zero counts left out."""
    out = {}
    for r in rows:
        by = out.setdefault(r["source"], {})
        v = verdict_of(r)
        by[v] = by.get(v, 0) + 1
    order = list(VERDICTS) + ["not run here"]
    return {s: {v: out[s][v] for v in order if v in out[s]} for s in SOURCES if s in out}


def _shown(row):
    """The committed table's verdict key for a row: a GPU-only test is not run here."""
    return "not run here" if row["gpu"] else row["verdict"]


def summary(rows):
    """The counts line the README quotes: the book's claims by verdict, then the other sources."""
    c = counts(rows, _shown)
    book = c.get("book", {})
    parts = [f"{sum(book.values())} claims of the book: " + ", ".join(f"{n} {v}" for v, n in book.items())]
    for source in list(SOURCES)[1:]:
        if source in c:
            parts.append(f"{sum(c[source].values())} {source}: " + ", ".join(f"{n} {v}" for v, n in c[source].items()))
    return "; ".join(parts) + "."


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def document(rows):
    """docs/claims.md: the markers' claims grouped by source, with their verdicts and tests, from
    the collection alone (no run's outcome: that is build/claims.md's)."""
    rows = numbered(rows)
    out = ["# Claims, checked", "",
           "Generated by `pytest --claims` from the claim markers (`tests/claims.py`): do not edit by hand;",
           "`tests/test_claims.py` checks that it matches the markers. Every statement a test answers,",
           "with whose statement it is, where it is, the verdict and the test that shows it. The results",
           "of a run (passed, failed, not run here) are printed by `pytest --claims` and written to",
           "`build/claims.md`; a claim whose test needs a GPU reads \"not run here\" below, as this page",
           "is made on a machine without one.", "",
           "Sources: **book**, the book's text (as the reader's notes give it) or its official example",
           "code, [caicloud/tensorflow-tutorial](https://github.com/caicloud/tensorflow-tutorial),",
           "`Deep_Learning_with_TensorFlow/1.4.0` (second edition, TF 1.4) and `0.12.1` (first edition,",
           "TF 0.12), cited by file and cell or line; **notes**, the reader's notes where they differ from",
           "the book; **port**, what changes from TF1 to TF2 (tfref's own statements, so they hold);",
           "**docs**, TensorFlow's guide and API docs. Chapters are numbered as in the second edition, the",
           "first edition's number in brackets where it differs; a page is the one the notes cite (which",
           "edition it is from is not verified).", "",
           "Verdicts: **holds**; **corrected**, right with a missing detail; **changed**, right for the",
           "TensorFlow the book used and different since the release named; **wrong**, wrong in its own",
           "TensorFlow version.", "",
           "Counts: " + summary(rows), ""]
    for source, heading in SOURCES.items():
        group = [r for r in rows if r["source"] == source]
        if not group:
            continue
        c = counts(group, _shown)[source]
        out += [f"## {heading[0].upper() + heading[1:]} (source=\"{source}\")", "",
                f"{len(group)}: " + ", ".join(f"{n} {v}" for v, n in c.items()) + ".", "",
                "| claim | statement | where | verdict | shown by |", "|---|---|---|---|---|"]
        for r in group:
            claim = Claim.from_dict(r)
            verdict = f"not run here ({GPU_ONLY})" if r["gpu"] else claim.verdict_text
            out.append(f"| {r['id']} | {_cell(claim.statement)} | {_cell(claim.reference)} | {_cell(verdict)} "
                       f"| `{r['test']}` |")
        out.append("")
    return "\n".join(out)


def marked_tests(root):
    """{test id: [problems]} for every test function in root/tests/test_*.py whose decorators hold a
    claim marker, read from the source: a run that collected fewer claim tests than this did not
    collect every claim. A problem is an argument of the marker that is not a literal (tools/
    sidebyside.py reads markers from the source and could not show it)."""
    out = {}
    for path in sorted(Path(root, "tests").glob("test_*.py")):
        tree = ast.parse(path.read_text())
        nodes = [(n, "") for n in tree.body] + [(m, f"{n.name}::") for n in tree.body if isinstance(n, ast.ClassDef)
                                                for m in n.body]
        for node, prefix in nodes:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or not node.name.startswith("test"):
                continue
            for d in node.decorator_list:
                if isinstance(d, ast.Call) and ast.unparse(d.func).split(".")[-2:] == ["mark", "claim"]:
                    problems = []
                    for a in list(d.args) + [k.value for k in d.keywords]:
                        try:
                            ast.literal_eval(a)
                        except ValueError:
                            problems.append(f"{ast.unparse(a)} is not a literal")
                    out[f"tests/{path.name}::{prefix}{node.name}"] = problems
    return out


# --- a run's table: the markers and this run's outcomes ------------------------------------------

def result(claim, report):
    """One row of the run table's input: the claim (a dict) and a test report's outcome, with the
    reason of a skip."""
    reason = ""
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
    return dict(claim, test=report.nodeid, outcome=report.outcome, reason=reason)


def table(rows):
    """The run's rows: ``rows`` (from ``result``) folded per test function; each row's id, claim,
    and this run's result. A test every case of which was skipped shows "not run here (reason)"
    instead of its verdict; a failed one shows no verdict."""
    folded = {}
    for r in rows:
        test = test_of(r["test"])
        f = folded.setdefault(test, dict(r, test=test, gpu=False, cases=0, failed=0, skipped=0, reasons=[]))
        f["cases"] += 1
        f["failed"] += r["outcome"] == "failed"
        if r["outcome"] == "skipped":
            f["skipped"] += 1
            if r["reason"] not in f["reasons"]:
                f["reasons"].append(r["reason"])
    out = []
    for f in numbered(list(folded.values())):
        claim = Claim.from_dict(f)
        ran = f["cases"] - f["skipped"]
        reasons = "; ".join(f["reasons"])
        if f["failed"]:
            result, verdict = f"failed ({f['failed']} of {f['cases']} cases)", "not shown: the test failed"
        elif not ran:
            result, verdict = "not run here", f"not run here ({reasons})"
        else:
            result = "passed" + (f" ({ran} cases)" if ran > 1 else "") + (
                f", {f['skipped']} not run here ({reasons})" if f["skipped"] else "")
            verdict = claim.verdict_text
        out.append(dict(id=f["id"], source=claim.source, where=claim.where, reference=claim.reference,
                        statement=claim.statement, verdict=claim.verdict, shown=verdict, test=f["test"],
                        result=result))
    return out


def markdown(claims):
    lines = []
    for source, heading in SOURCES.items():
        group = [c for c in claims if c["source"] == source]
        if group:
            lines += [f"## {heading} ({len(group)})", "", "| claim | statement | where | verdict | shown by | this run |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {c['id']} | {_cell(c['statement'])} | {_cell(c['reference'])} | {_cell(c['shown'])} | "
                      f"`{c['test']}` | {c['result']} |" for c in group]
            lines.append("")
    return "\n".join(lines)


def text(claims):
    out = []
    for source, heading in SOURCES.items():
        group = [c for c in claims if c["source"] == source]
        if group:
            out.append(f"-- {heading} ({len(group)}) --")
            for c in group:
                out.append(f"{c['id']:<12} {c['result']:<24} {c['test']}")
                out.append(f"{'':12} {c['statement']}")
                out.append(f"{'':12} [{c['reference']}]")
                out.append(f"{'':12} -> {c['shown']}")
    return "\n".join(out) + "\n"


def write(claims, folder="build"):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "claims.md"), "w") as f:
        f.write(markdown(claims))
    with open(os.path.join(folder, "claims.json"), "w") as f:
        json.dump(claims, f, indent=1, ensure_ascii=False)


def write_document(rows, path):
    """docs/claims.md from the collected rows."""
    Path(path).write_text(document(rows))

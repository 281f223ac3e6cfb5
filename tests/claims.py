"""Claims: which test answers which statement of the book, and what it found.

A test that answers a statement of the teaching material carries

    @pytest.mark.claim("p91", "the moving-average decay is min(decay, (1 + n) / (10 + n))")

and, where the book is not simply right, a verdict and a correction:

    @pytest.mark.claim("p78", "tf.nn.softmax_cross_entropy_with_logits takes the network's output",
                       verdict="wrong", correction="it takes logits; fed probabilities it softmaxes twice")

``where`` is the chapter/section or page the reader's notes give ("p91", "ch4.2"), or "snippet"
for a classic code snippet with no page. Verdicts:

    holds       the book is right, as stated
    corrected   right with a correction (a missing detail, a renamed API, a TF2 difference)
    wrong       the book's code or statement is wrong; ``correction`` says what is right

``pytest --claims`` prints the table (claim id ``where/n``, statement, verdict, the test, pass/fail
of this run) and writes it to build/claims.md and build/claims.json.
"""
from __future__ import annotations

import json
import os
import re

VERDICTS = {"holds": "holds", "corrected": "holds with a correction", "wrong": "the book's code is wrong"}


def parse(args, kwargs, test):
    """(where, statement, verdict, correction) from a claim marker's arguments, validated: the one
    parser, used on collected tests (claim_of) and on source code (tools/sidebyside.py). ``test``
    names the test in the error an invalid marker raises."""
    args, kwargs = list(args), dict(kwargs)
    where = args[0] if args else kwargs.pop("where", None)
    statement = args[1] if len(args) > 1 else kwargs.pop("statement", None)
    if not where or not statement:
        raise ValueError(f"{test}: a claim needs where and statement, got {args!r} {kwargs!r}")
    verdict = kwargs.get("verdict", "holds")
    if verdict not in VERDICTS:
        raise ValueError(f"{test}: claim verdict must be one of {sorted(VERDICTS)}, got {verdict!r}")
    if verdict != "holds" and not kwargs.get("correction"):
        raise ValueError(f"{test}: a claim with verdict {verdict!r} needs a correction")
    return where, statement, verdict, kwargs.get("correction", "")


def claim_of(item):
    """The parsed claim marker of a test item, or None."""
    marker = item.get_closest_marker("claim")
    return None if marker is None else parse(marker.args, marker.kwargs, item.nodeid)


def result(claim, report):
    """One row of the table's input: the claim and a test report's outcome."""
    where, statement, verdict, correction = claim
    return dict(where=where, statement=statement, verdict=verdict, correction=correction,
                test=report.nodeid, outcome=report.outcome)


def _page_key(where):
    """Chapters (ch4.2.1) in section order, then pages (p78) in page order, then the snippets."""
    prefix = re.match(r"[a-z]*", where).group(0)
    numbers = tuple(int(n) for n in re.findall(r"\d+", where))
    return ({"ch": 0, "p": 1}.get(prefix, 2), numbers, where)


def table(rows):
    """rows: dicts with where, statement, verdict, correction, test, outcome (one per test id;
    parametrized tests are folded into one row: passed only if every case passed)."""
    folded = {}
    for r in rows:
        key = (r["where"], r["statement"], r["test"].split("[")[0])
        f = folded.setdefault(key, dict(r, test=r["test"].split("[")[0], cases=0, failed=0, skipped=0))
        f["cases"] += 1
        f["failed"] += r["outcome"] == "failed"
        f["skipped"] += r["outcome"] == "skipped"
    out, counters = [], {}
    for key in sorted(folded, key=lambda k: (_page_key(k[0]), k[2])):
        f = folded[key]
        counters[f["where"]] = counters.get(f["where"], 0) + 1
        result = ("failed" if f["failed"] else "skipped" if f["skipped"] == f["cases"] else "passed") + (
            f" ({f['cases']} cases)" if f["cases"] > 1 else "")
        out.append(dict(id=f"{f['where']}/{counters[f['where']]}", where=f["where"], statement=f["statement"],
                        verdict=VERDICTS[f["verdict"]], correction=f["correction"], test=f["test"], result=result))
    return out


def markdown(claims):
    lines = ["| claim | statement | verdict | shown by | this run |", "|---|---|---|---|---|"]
    def cell(text):
        return text.replace("|", "\\|")
    for c in claims:
        verdict = c["verdict"] + (f": {c['correction']}" if c["correction"] else "")
        lines.append(f"| {c['id']} | {cell(c['statement'])} | {cell(verdict)} | `{c['test']}` | {c['result']} |")
    return "\n".join(lines) + "\n"


def text(claims):
    out = []
    for c in claims:
        out.append(f"{c['id']:<10} {c['verdict']:<26} {c['result']:<20} {c['test']}")
        out.append(f"{'':10} {c['statement']}" + (f"\n{'':10} -> {c['correction']}" if c["correction"] else ""))
    return "\n".join(out) + "\n"


def write(claims, folder="build"):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "claims.md"), "w") as f:
        f.write(markdown(claims))
    with open(os.path.join(folder, "claims.json"), "w") as f:
        json.dump(claims, f, indent=1)

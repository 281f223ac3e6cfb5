"""The agreement report: the worst error against the float64 reference seen in a run,
in units of the dtype's machine epsilon, per concept x check x dtype x mode, beside
the tolerance the tests allow.

    pytest tests/test_catalog.py --agreement-report -q
"""
import json
import os

from tests.catalog.concept import MODES


def format_report(record):
    """``record``: (concept, check, dtype, mode) -> (worst error in eps, tolerance in eps).
    One row per concept x check x dtype, one column per mode; "used" is the largest
    share of the tolerance any mode needed."""
    if not record:
        return "no agreement checks ran\n"
    rows = {}
    for (concept, check, dtype, mode), (worst, tol) in record.items():
        rows.setdefault((concept, check, dtype), {})[mode] = (worst, tol)
    table = [("concept", "check", "dtype", *MODES, "tolerance", "used")]
    for key in sorted(rows):
        cells = rows[key]
        tol = max(t for _, t in cells.values())
        worst = max(w for w, _ in cells.values())
        used = f"{worst / tol:.0%}" if tol else ("exact" if worst == 0 else "over")
        table.append((*key, *(f"{cells[m][0]:.3g}" if m in cells else "-" for m in MODES), f"{tol:g}", used))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return ("worst error against the float64 reference, in units of eps(dtype) x the tolerance's scale\n"
            "(the error model's bound evaluated on each sample, or |reference| where a tolerance has no model)\n"
            + "\n".join(lines) + "\n")


def write_report(record, text, folder):
    """The report as build/agreement.md (the text, for people) and build/agreement.json (one object
    per concept x check x dtype x mode, for tools such as the side-by-side pages)."""
    os.makedirs(folder, exist_ok=True)
    md, js = os.path.join(folder, "agreement.md"), os.path.join(folder, "agreement.json")
    with open(md, "w") as f:
        f.write("# Agreement with the float64 reference\n\n```\n" + text + "```\n")
    with open(js, "w") as f:
        json.dump([dict(concept=c, check=k, dtype=d, mode=m, worst=w, tolerance=t)
                   for (c, k, d, m), (w, t) in sorted(record.items())], f, indent=0)
    return [os.path.relpath(md), os.path.relpath(js)]

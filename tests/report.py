"""The agreement report: worst error against the float64 reference, in units of
the dtype's machine epsilon, beside the tolerance the tests allow.

    pytest tests/test_catalog.py --agreement-report -q
"""


def format_report(record):
    """``record``: (concept, check, dtype, mode) -> (worst error in eps, tolerance in eps)."""
    if not record:
        return "no agreement checks ran\n"
    rows = [("concept", "check", "dtype", "mode", "worst (eps)", "tolerance (eps)", "used")]
    for (concept, check, dtype, mode), (worst, tol) in sorted(record.items()):
        used = f"{worst / tol:.0%}" if tol else ("exact" if worst == 0 else "OVER")
        rows.append((concept, check, dtype, mode, f"{worst:.3g}", f"{tol:g}", used))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() + "\n" for r in rows)

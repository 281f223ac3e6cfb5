"""The README and docs/ stay honest: every relative link and image resolves to a file and every
#anchor to a heading; every docs page is one click from the README; the README's chapter table
names the modules of tests/chapters.py in the same order; the Quick start holds the two commands
.ci/run runs. No TensorFlow: these read files."""
import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.chapters import CHAPTERS, Chapter, chapters, modules_of, primary_chapter

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~).*?^\1\s*$", re.M | re.S)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def prose(text):
    """The text without fenced blocks and inline code: what a renderer turns into links and headings."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slugs(text):
    """The anchors GitHub gives the headings of a markdown text: lower case, punctuation dropped,
    spaces as hyphens, a repeated slug numbered -1, -2, ..."""
    out, seen = set(), {}
    for line in FENCE.sub("", text).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", m.group(1)).replace("`", "")
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(path):
    return [m.group(1) for m in LINK.finditer(prose(path.read_text()))]


def test_every_relative_link_and_image_resolves_to_a_file_and_every_anchor_to_a_heading():
    broken, checked = [], 0
    for page in PAGES:
        for target in links(page):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto:: not ours to check
                continue
            checked += 1
            path, _, anchor = target.partition("#")
            file = (page.parent / path).resolve() if path else page
            where = f"{page.relative_to(ROOT)}: ({target})"
            if not file.is_file():
                broken.append(f"{where}: no file {file}")
            elif anchor and (file.suffix != ".md" or anchor not in slugs(file.read_text())):
                broken.append(f"{where}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert checked >= len(PAGES), "the link pattern found almost no links: is it still reading the pages?"
    assert not broken, "\n".join(broken)


def test_every_docs_page_is_one_click_from_the_readme():
    readme = ROOT / "README.md"
    linked = {(readme.parent / t.partition("#")[0]).resolve() for t in links(readme)}
    missing = [p.relative_to(ROOT) for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"README.md links no {missing}"


def chapter_table(text):
    """The README's chapter table: per row, (number, first edition's number or None, the
    modules before "also", the modules after it) and the tests cell."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^\|\s*chapter\s*\|", line))
    header = [c.strip() for c in lines[start].strip().strip("|").split("|")]
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = dict(zip(header, (c.strip() for c in line.strip().strip("|").split(" | "))))
        m = re.fullmatch(r"(\d+(?:\.\d+)*)(?: \[1st ed\.: (\d+(?:\.\d+)*)\])?", cells["chapter"])
        assert m, f"chapter cell {cells['chapter']!r}: want '4.2' or '12.1 [1st ed.: 10.1]'"
        primary, _, also = cells["modules"].partition("also")
        rows.append(((m.group(1), m.group(2), tuple(re.findall(r"`(\w+)`", primary)),
                      tuple(re.findall(r"`(\w+)`", also))), cells["tests"]))
    return rows


def test_the_readme_chapter_table_names_the_modules_of_tests_chapters_in_the_same_order():
    rows = chapter_table((ROOT / "README.md").read_text())
    table = [row for row, _ in rows]
    expected = [(c.number, c.first_edition, c.modules, c.also) for c in CHAPTERS]
    for i, (got, want) in enumerate(zip(table, expected)):
        assert got == want, f"README chapter table row {i + 1}: {got} but tests/chapters.py says {want}"
    assert len(table) == len(expected), f"README has {len(table)} chapter rows, tests/chapters.py {len(expected)}"
    for _, tests in rows:
        for path in re.findall(r"`([\w/]+\.py)`", tests):
            assert (ROOT / path).is_file(), f"the chapter table names {path}, which does not exist"


def test_every_module_has_one_primary_chapter_and_the_chapters_go_in_book_order():
    modules = {p.stem for side in ("reference", "tfimpl") for p in (ROOT / side).glob("*.py")
               if not p.stem.startswith("_")}
    primaries = [m for c in CHAPTERS for m in c.modules]
    assert sorted(primaries) == sorted(modules), \
        f"each module once as a primary: missing {modules - set(primaries)}, unknown {set(primaries) - modules}, " \
        f"twice {sorted({m for m in primaries if primaries.count(m) > 1})}"
    for c in CHAPTERS:
        assert set(c.also) <= modules and not set(c.also) & set(c.modules), c
        assert c.first_edition != c.number, f"{c.number}: first_edition only where it differs"
    key = [tuple(int(n) for n in c.number.split(".")) for c in CHAPTERS]
    assert key == sorted(key) and len(set(key)) == len(key), "CHAPTERS is not in the book's order"


def test_modules_of_takes_a_chapter_or_a_section_and_knows_12_from_1():
    assert modules_of("4.2") == ("losses", "activations")
    assert modules_of("4.2.2") == ("losses",)
    assert modules_of("ch4.4") == ("schedules", "regularizers", "variables", "moving_average")
    assert set(modules_of("4")) == {"nn", "activations", "losses", "schedules", "regularizers", "variables",
                                    "moving_average"}
    assert modules_of("12") == ("devices", "parallel")
    assert [c.number for c in chapters("7")] == ["7.1", "7.2", "7.3", "7.4"]
    assert primary_chapter("variables").number == "5.3" and primary_chapter("nowhere") is None
    assert Chapter("12.3", "x", first_edition="10.3").label == "12.3 [1st ed.: 10.3]"
    for unknown in ("1", "4.5", "12.3.1"):
        with pytest.raises(ValueError, match="no chapter"):
            modules_of(unknown)


def test_the_quick_start_block_holds_the_two_commands_ci_runs():
    """.ci/run's own awk program reads the block; it must find the install, then the test run."""
    script = (ROOT / ".ci" / "run").read_text()
    program = re.search(r"awk '([^']*)' README\.md", script)
    assert program, ".ci/run no longer reads the Quick start with awk: update this test"
    found = subprocess.run(["awk", program.group(1), "README.md"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    assert found == ['pip install -e ".[test]"', "pytest"]


def planted_tests():
    """The test functions marked @pytest.mark.planted, read from the test files' source."""
    found = []
    for path in sorted((ROOT / "tests").glob("test_*.py")) + sorted((ROOT / "bench").glob("bench_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and any(
                    ast.unparse(d).startswith("pytest.mark.planted") for d in node.decorator_list):
                found.append(f"{path.relative_to(ROOT)}::{node.name}")
    return found


def test_the_readme_counts_the_planted_bug_tests():
    """The README's "N tests plant a bug" is the number of test functions marked planted."""
    m = re.search(r"(\d+) tests plant a bug", (ROOT / "README.md").read_text())
    assert m, 'the README no longer says how many tests plant a bug ("N tests plant a bug")'
    marked = len(planted_tests())
    assert int(m.group(1)) == marked, f"README: {m.group(1)}; marked: {marked}"

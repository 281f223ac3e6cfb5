"""`pytest --profile-time` (tests/timing.py): what it calls compiling and running, the distinct inputs it
counts, and the work units conftest.py's scheduler keeps on one xdist worker."""
import numpy as np
import pytest

from tests import harness, timing
from tests.catalog import BY_NAME
from tests.catalog.concept import Sample

RELU = BY_NAME["relu"]


@pytest.fixture
def notes(monkeypatch):
    """The harness's notes switched on for this test alone, in a fresh record."""
    monkeypatch.setattr(timing, "ON", [True])
    monkeypatch.setattr(timing, "_NOTES", {})
    monkeypatch.setattr(timing, "_COMPILED", set())
    return timing


def test_xla_compiles_once_per_concrete_shape_and_the_other_modes_once_per_function(notes):
    """relu's compiled function called on shapes (3,), (3,) again, (4,): XLA compiles for (3,) and (4,);
    tf.function and the TF1 Session build once; eager calls are runs."""
    shapes = [(3,), (3,), (4,)]
    for mode in ("eager", "function", "xla", "graph"):
        for shape in shapes:
            harness.check_values(RELU, Sample((np.linspace(-1, 1, shape[0]),)), "float32", mode)
    taken = notes.take()
    assert [taken[m][2:] for m in ("eager", "function", "xla", "graph")] == [[0, 3], [1, 2], [2, 1], [1, 2]], taken
    assert all(taken[m][0] > 0 for m in ("function", "xla", "graph")), taken
    # the inputs: relu x float32 x mode, two distinct inputs per cell ((3,) twice is one), two shapes
    assert len(taken["inputs"]) == 12
    profile = timing.Profile()
    profile.add("tests/test_catalog.py::test_agreement[relu-float32-xla]", "call", 1.0, "passed", taken,
                {"concept": "relu", "dtype": "float32", "mode": "xla"})
    assert {k: (len(v), len(profile.shapes[k])) for k, v in profile.inputs.items()} == {
        ("relu", "float32", m): (2, 2) for m in ("eager", "function", "xla", "graph")}
    assert notes.take() == {}, "take() resets the notes"


def test_the_notes_cost_nothing_when_no_profile_is_taken(monkeypatch):
    monkeypatch.setattr(timing, "ON", [])
    monkeypatch.setattr(timing, "_NOTES", {})
    harness.check_values(RELU, Sample((np.array([0.5, -1.0]),)), "float32", "xla")
    assert timing.take() == {}


def test_a_catalog_cells_tests_form_one_work_unit_and_a_named_files_tests_another():
    cell = "tests/test_catalog.py::{}[softmax-float32-xla]"
    units = {timing.work_unit(cell.format(t)) for t in ("test_agreement", "test_edge_cases", "test_deterministic",
                                                         "test_gradient_matches_reference")}
    assert len(units) == 1
    assert timing.work_unit(cell.format("test_agreement").replace("xla", "graph")) not in units
    assert timing.work_unit("tests/test_nn.py::test_fused[eigen-float32]") == timing.work_unit("tests/test_nn.py::test_x")


def test_the_profile_page_names_its_command_and_splits_compiling_from_running():
    profile = timing.Profile()
    profile.add("tests/test_catalog.py::test_agreement[lstm-float32-xla]", "call", 3.0, "passed",
                {"xla": [2.0, 0.5, 1, 3], "inputs": [["lstm", "float32", "xla", "aa", "s1"]]},
                {"concept": "lstm", "dtype": "float32", "mode": "xla"})
    profile.add("tests/test_nn.py::test_fused", "setup", 4.0, "passed", {}, {})
    profile.finish()
    page = timing.markdown(profile, "pytest --profile-time", ["machine: a test"])
    assert "`pytest --profile-time`" in page and "machine: a test" in page
    assert "| tests/test_catalog.py | 1 | 0.0 | 3.0 | 2.0 | 1 | 0.5 | 0.5 | 3.0 |" in page, page
    assert "| lstm | 1 | 3.0 | 0.0 / 0.0 (0) | 0.0 / 0.0 (0) | 2.0 / 0.5 (1) | 0.0 / 0.0 (0) | 0.5 |" in page, page
    assert "| tests/test_nn.py | 1 | 4.0 | 0.0 |" in page, page


def test_the_floor_is_compiling_running_and_start_up_spread_over_the_workers():
    """A controller and two workers (start-up 5 s each), 6 s compiling and 2 s running in the harness:
    (6 + 2 + 15) / 2 = 11.5 s, whatever the tests' own Python cost."""
    profile = timing.Profile()
    for i, mode in enumerate(("xla", "graph")):
        profile.add(f"tests/test_catalog.py::test_agreement[relu-float32-{mode}]", "call", 20.0, "passed",
                    {mode: [3.0, 1.0, 2 + i, 4]}, {"concept": "relu", "dtype": "float32", "mode": mode})
    for _ in range(3):
        profile.add_process({"startup": 5.0, "collection": 1.0, "total": 30.0})
    profile.finish()
    page = timing.markdown(profile)
    assert "compiled 5 times in 6.0 s and ran for 2.0 s" in page, page
    assert "the 3 processes took 15.0 s" in page and "over 2 workers" in page and "**11.5 s**" in page, page

"""Per-call dispatch overhead: every catalog concept at its smallest sizes as the NumPy
reference, TF eager, tf.function, XLA and TF1 Session.run, where the fixed cost of a call
(Python, the op dispatch, the function call, the Session's feed and fetch) dominates. With
the catalog's own sizes (bench_catalog.py) the terminal summary and `python -m
tools.plot_bench <json> --table` give, per concept, each mode's time per call and the size
at which it overtakes NumPy. The smoke run times one concept only, in every mode."""
from bench.bench_catalog import CONCEPTS, cases, time_concept
from bench.conftest import sweep, timing

TINY = ([1], [1], [1, 10, 100])
"""Elements requested (smoke, default, full sweep); a concept's bench may round up (a row of
1000 activations, a batch of one): the tables use the elements actually fed."""


def pytest_generate_tests(metafunc):
    if "tiny" in metafunc.fixturenames:
        sizes = sweep(metafunc.config, *TINY)
        metafunc.parametrize("tiny", sizes, ids=[f"n{n}" for n in sizes])
        concepts = CONCEPTS if timing(metafunc.config) else CONCEPTS[:1]
        metafunc.parametrize("name,device,impl", cases(concepts))


def bench_dispatch(benchmark, limits, name, device, impl, tiny, rng):
    concept = next(c for c in CONCEPTS if c.name == name)
    time_concept(benchmark, limits, concept, impl, device, tiny, rng, f"dispatch-{name}-n{tiny}-{device}")

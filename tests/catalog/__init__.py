"""The concept catalog: one ``Concept`` entry per concept drives the generic tests
(tests/test_catalog.py), the agreement report, the benchmarks and the side-by-side pages.

What an entry is made of, and the catalog's words (strategy, edge, error model, BadInput,
KernelFact, mode, eps), are defined once, in tests/catalog/concept.py.

Adding a concept = its two functions (reference/ and tfimpl/) plus one entry appended to
CATALOG in the topic module of this package (tests/catalog/<topic>.py). Concept-specific
facts get their own named tests beside it.
"""
from tests.catalog import activations, image, losses, moving_average, nn, regularizers, rnn, schedules

TOPICS = (activations, nn, losses, schedules, regularizers, moving_average, image, rnn)
"""The topic modules, in the book's order of chapters (4.1 ... 4.4, 7.2, 8)."""

CATALOG = tuple(concept for topic in TOPICS for concept in topic.CATALOG)
BY_NAME = {c.name: c for c in CATALOG}
assert len(BY_NAME) == len(CATALOG), f"duplicate concept names in the catalog: {[c.name for c in CATALOG]}"


"""The hypothesis profiles: how many examples each drawn test takes, and whether they are random.
Example counts live here and nowhere else (no test sets max_examples of its own).

    ci        the default: derandomized, so a reader's plain `pytest` gives exactly CI's verdict on
              any machine, run after run (.ci/run names it explicitly)
    explore   random draws, many examples, failures kept in .hypothesis/ to replay: run it before
              you stop, fix each case it finds at its cause, then pin that case as an @example
    thorough  random draws, 200 examples a test: the deep search, for a release or a new error model
    unshrunk  ci without shrinking: tests/test_grader.py's child runs, which grade planted mistakes
              whose failing cases are known (the grader's own shrinking is not what they check)

`pytest --hypothesis-profile=explore` chooses one.
"""
from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

PROFILES = {
    "ci": dict(max_examples=4, derandomize=True, database=None),
    "explore": dict(max_examples=25),
    "thorough": dict(max_examples=200),
    "unshrunk": dict(max_examples=4, derandomize=True, database=None,
                     phases=[Phase.explicit, Phase.reuse, Phase.generate]),
}
DEFAULT = "ci"


def register():
    """Register every profile and load the default (--hypothesis-profile overrides it)."""
    for name, values in PROFILES.items():
        settings.register_profile(name, **values, **_COMMON)
    settings.load_profile(DEFAULT)

"""pytest hooks and fixtures of the benchmarks; the library they use is bench/_support.py."""
import numpy as np
import pytest

from bench import _support


def pytest_configure(config):
    config.addinivalue_line("markers", "standin: the GPU branch on the stand-in device /CPU:1 (smoke run only)")


def pytest_generate_tests(metafunc):
    if "size" in metafunc.fixturenames:
        _support.parametrize_sizes(metafunc)


def pytest_collection_modifyitems(config, items):
    """Under timing the stand-in's cases are deselected: its timings would be the CPU's again."""
    if not _support.timing(config):
        return
    keep, drop = [], []
    for item in items:
        (drop if item.get_closest_marker("standin") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session):
    """Before pytest-benchmark writes its JSON."""
    _support.settle_fractions()


def pytest_terminal_summary(terminalreporter, config):
    for title, lines in _support.summary():
        terminalreporter.section(title)
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def limits(request):
    return _support.limits_for(_support.timing(request.config))


@pytest.fixture
def rng():
    return np.random.default_rng(0)

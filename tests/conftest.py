"""Shared test settings: hypothesis profiles, the `slow` marker, and CI=true failing on a missing torch or browser.

Profiles (pick one with HYPOTHESIS_PROFILE=<name>; "standard" by default):
    standard   the everyday run: the file's own max_examples (modest), no deadline
    quick      5 examples per property, for a fast edit-test loop
    thorough   10x the examples, for a long look before a release
    mutation   10 examples, no shrinking, no example database: for tools/mutation.py, where a
               failing test should fail fast (shrinking a failure is what made mutants time out)

A test that sets its own example count should use `strategies.examples(n)`, which
scales n with the profile. Numbers come from a drawn seed (`strategies.seeds`)
through np.random.default_rng(seed); conv/pool configurations from tests/strategies.py.
"""
import os

import pytest
from hypothesis import HealthCheck, Phase, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("standard", max_examples=25, **_COMMON)
settings.register_profile("quick", max_examples=5, **_COMMON)
settings.register_profile("thorough", max_examples=250, **_COMMON)
settings.register_profile("mutation", max_examples=10, database=None,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "standard"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: seconds rather than milliseconds; still part of the default run")


# ---- under CI, a missing PyTorch (or browser) fails the run ---------------------------------------
# The parity tests skip without torch (`pytest.importorskip("torch")`), so a laptop without it still
# runs everything else. CI installs torch; there a skip would hide that nothing was compared with
# PyTorch, so with CI=true each such skip is turned into a failure that says why.

def _in_ci():
    return os.environ.get("CI", "").lower() == "true"


def _torch_missing(skip_message):
    return "could not import 'torch'" in str(skip_message)


# The browser tests (tests/test_explore_browser.py) skip with a reason starting with this when playwright or
# chromium is missing; CI installs both (.ci/run), so there too a skip is a failure.
BROWSER_MISSING = "needs a browser:"


def _browser_missing(skip_message):
    return BROWSER_MISSING in str(skip_message)


def _as_failure(report, message):
    report.outcome = "failed"
    if _browser_missing(message):
        report.longrepr = f"CI=true, and this test {message}; install playwright and chromium"
        return
    report.longrepr = f"CI=true, and this test needs PyTorch, which is missing ({message}); install torch"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    excinfo = call.excinfo
    if _in_ci() and report.skipped and excinfo is not None and (_torch_missing(excinfo.value)
                                                                or _browser_missing(excinfo.value)):
        _as_failure(report, excinfo.value)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """A module that skips itself at import (`torch = pytest.importorskip("torch")` at the top)."""
    outcome = yield
    report = outcome.get_result()
    if _in_ci() and report.skipped and _torch_missing(report.longrepr):
        _as_failure(report, report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr)

"""Shared test settings: hypothesis profiles and the `slow` marker.

Profiles (pick one with HYPOTHESIS_PROFILE=<name>; "standard" by default):
    standard   the everyday run: the file's own max_examples (modest), no deadline
    quick      5 examples per property, for a fast edit-test loop
    thorough   10x the examples, for a long look before a release

A test that sets its own example count should use `strategies.examples(n)`, which
scales n with the profile. Numbers come from a drawn seed (`strategies.seeds`)
through np.random.default_rng(seed); conv/pool configurations from tests/strategies.py.
"""
import os

from hypothesis import HealthCheck, settings

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("standard", max_examples=25, **_COMMON)
settings.register_profile("quick", max_examples=5, **_COMMON)
settings.register_profile("thorough", max_examples=250, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "standard"))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: seconds rather than milliseconds; still part of the default run")

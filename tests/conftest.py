"""Shared test configuration: hypothesis profiles and the device fixture.

Profiles: "ci" (the default: derandomized, few examples, no deadline) and "dev" (more
examples, random); pick one with HYPOTHESIS_PROFILE=dev.
"""

import os

# OpenMP threads that spin while waiting slow the kernels down many times over when the
# test run shares its 2 cores with other work; passive waiting costs nothing when idle.
# libgomp reads this once, when minigrad's kernels load it, so it must be set first.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

import minigrad as mg  # noqa: E402

settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=10, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=100, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

HAS_CUDA = mg.cuda.is_available()

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not HAS_CUDA, reason="no CUDA GPU/CuPy"))]


@pytest.fixture(params=DEVICES)
def device(request):
    """Runs a test once per available device ("cpu", and "cuda" when a GPU is present)."""
    return request.param

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
# One summary line per missing optional package (torch: the oracle tests) instead of one
# SKIPPED line per test.
from skip_summary import pytest_make_collect_report, pytest_runtest_makereport  # noqa: E402,F401

settings.register_profile(
    "ci", deadline=None, derandomize=True, max_examples=10, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "dev", deadline=None, max_examples=100, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# The emulated device's kernels are slow: CI's MINIGRAD_FAKE_CUDA block runs 3 examples a test.
settings.register_profile(
    "cuda-emulated", deadline=None, derandomize=True, max_examples=3, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# ---------------------------------------------------------------------------- devices (cudad)
# One fixture, `device`, parametrises tests over "cpu" and "cuda". "cuda" is a real GPU when CuPy
# sees one, the emulated device under MINIGRAD_FAKE_CUDA=1, and otherwise skips with the reason
# (one summary line). MINIGRAD_REQUIRE_GPU=1 turns that skip into a failure, and fails on the
# emulated device too: set it on a GPU machine so a broken CuPy install can't pass silently.
# Every test that uses the fixture on "cuda" carries the `cuda` marker: `pytest -m cuda` runs just
# those (CI runs them under MINIGRAD_FAKE_CUDA=1).

HAS_CUDA = mg.cuda.is_available()
REQUIRE_GPU = os.environ.get("MINIGRAD_REQUIRE_GPU", "").strip().lower() in ("1", "true", "yes", "on")
DEVICES = ["cpu", "cuda"]


# ------------------------------------------------------- the package under test (fallback)
# The session fails, before any test runs, when the minigrad imported is not the one installed
# in this environment (e.g. `python -m pytest` in a checkout after a non-editable install), or
# MINIGRAD_REQUIRE_EXT=1 is set and a compiled kernel is missing: otherwise the kernel tests
# would skip and the rest pass on the numpy reference. See tests/install_check.py.


def pytest_sessionstart(session):
    import pathlib

    import install_check

    found = install_check.problems(mg, pathlib.Path(__file__).resolve().parents[1])
    if found:
        pytest.exit("minigrad's test session cannot start:\n  - " + "\n  - ".join(found),
                    returncode=pytest.ExitCode.USAGE_ERROR)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: runs on the 'cuda' device (real or emulated)")


def pytest_collection_modifyitems(config, items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and str(callspec.params.get("device", "")).startswith("cuda"):
            item.add_marker(pytest.mark.cuda)


def require_device(name):
    """Skip (or, with MINIGRAD_REQUIRE_GPU=1, fail) unless device `name` is usable here."""
    if not name.startswith("cuda"):
        return
    if REQUIRE_GPU and mg.cuda.is_emulated():
        pytest.fail("MINIGRAD_REQUIRE_GPU=1 but 'cuda' is the emulated device (MINIGRAD_FAKE_CUDA)")
    if not HAS_CUDA:
        reason = "no CUDA GPU (or no CuPy) here; MINIGRAD_FAKE_CUDA=1 emulates one"
        if REQUIRE_GPU:
            pytest.fail(f"MINIGRAD_REQUIRE_GPU=1 but cuda is not available: {mg.cuda._probe()[1]}")
        pytest.skip(reason)


@pytest.fixture(params=DEVICES, scope="session")  # session: hypothesis tests may use it
def device(request):
    """The device a test runs on: "cpu", then "cuda" (a GPU, or emulated; skipped if neither).

    Tests that compare a device with the CPU take only "cuda":
    @pytest.mark.parametrize("device", ["cuda"], indirect=True).
    """
    require_device(request.param)
    return request.param

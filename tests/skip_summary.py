"""pytest hooks (imported by conftest.py): tests skipped because an optional package is missing
(`pytest.importorskip("torch")` in the PyTorch oracle tests) are reported in one summary line
per package that says how to enable them, instead of one SKIPPED line per test, which reads
like a list of failures to a newcomer; the same for tests of the "cuda" device on a machine
without a GPU. The counts in pytest's last line are unchanged."""

import os

import pytest

# Optional packages the tests compare against or need, and how to install each.
OPTIONAL = {
    "torch": ("PyTorch oracle tests", "pip install torch==2.13.0"),
    "safetensors": ("safetensors format tests", "pip install safetensors"),
    "matplotlib": ("bench plot tests", "pip install matplotlib"),
}
TESTS_DIR = os.path.dirname(os.path.abspath(__file__))


def fold(report):
    """Rewrite a skip caused by a missing optional package so that pytest's short summary
    folds all of them into one line (same path, no line number, same reason)."""
    if not report.skipped or not isinstance(report.longrepr, tuple) or len(report.longrepr) != 3:
        return
    reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    if reason.startswith("no CUDA GPU"):  # the device fixture's "cuda" without a GPU
        report.longrepr = (TESTS_DIR, None, reason)
        return
    for package, (what, install) in OPTIONAL.items():
        if reason.startswith((f"could not import '{package}'", f"could not import '{package}.")):
            report.longrepr = (TESTS_DIR, None, f"{what} ({package} is not installed; "
                                                f"`{install}` runs them)")
            return


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    fold(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    fold(outcome.get_result())

"""minigrad/backend/malloc.py: freed arrays stay in the heap for reuse (glibc), so a training
loop's repeated large allocations do not page-fault their memory in again every step."""

import os
import subprocess
import sys
import textwrap

import pytest

from minigrad.backend import malloc

GLIBC = sys.platform.startswith("linux") and malloc._glibc()

# A child: the allocation pattern of a step (a few MB-sized arrays alive together, then freed),
# repeated; prints whether the settings were made and the minor page faults of 10 repeats.
STEPS = textwrap.dedent("""
    import resource
    import numpy as np
    import minigrad
    from minigrad.backend import malloc
    def step():
        live = [np.ones(n, np.float32) for n in (4 << 20, 3 << 20, 1 << 20, 2 << 20, 5 << 20)]
        del live
    step()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        step()
    print(malloc.applied, resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
""")


def _run_steps(**env):
    child_env = {k: v for k, v in os.environ.items()
                 if k not in malloc.GLIBC_VARIABLES and k != "MINIGRAD_KEEP_FREED_MEMORY"}
    child_env.update(env)
    proc = subprocess.run([sys.executable, "-c", STEPS], capture_output=True, text=True,
                          env=child_env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    applied, faults = proc.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's (mallopt)")
def test_freed_memory_is_reused_instead_of_faulted_in_again():
    applied, faults = _run_steps()
    off, faults_off = _run_steps(MINIGRAD_KEEP_FREED_MEMORY="0")
    assert applied and not off
    # 10 steps of 60 MB: thousands of faults when memory goes back to the kernel each time
    assert faults_off > 1000, faults_off
    assert faults < faults_off / 20, (faults, faults_off)


@pytest.mark.skipif(not GLIBC, reason="the settings are glibc's (mallopt)")
def test_glibc_tuning_in_the_environment_is_left_alone():
    applied, _ = _run_steps(MALLOC_TOP_PAD_="0")
    assert not applied


@pytest.mark.parametrize("environ", [{"MINIGRAD_KEEP_FREED_MEMORY": "0"},
                                     {"MALLOC_TRIM_THRESHOLD_": "131072"},
                                     {"MALLOC_MMAP_THRESHOLD_": "131072"}])
def test_opt_outs_make_no_call(monkeypatch, environ):
    monkeypatch.setattr(malloc, "applied", None)
    monkeypatch.setattr(malloc.ctypes, "CDLL", lambda *a: pytest.fail("mallopt was called"))
    assert malloc.keep_freed_memory(environ) is False

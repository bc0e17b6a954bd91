"""Child processes: their environment (glibc malloc thresholds, OpenBLAS tuning variables
removed, thread counts) and running one JSON task in `python -m minigrad.bench --child`."""

import json
import os
import subprocess
import sys

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(1 << 30), "MALLOC_TRIM_THRESHOLD_": str(1 << 31)}
OPENBLAS_TUNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_THREAD_TIMEOUT")
# OpenBLAS's worker threads spin for about 2**28 cycles (~0.1 s) after each call before they
# sleep. In the bench's process that takes the cores from whatever is timed next: the numpy
# reference, interleaved with minigrad and torch, made both 2-3x slower on the conv workloads
# at random (torch's conv2 N=128 fwd+bwd: 14.3 ms +-111% spread, 6.7 ms +-11% without the
# spin). 2**4 cycles: they sleep at once. The "numpy best" child drops it (OPENBLAS_TUNING_VARS)
# and keeps OpenBLAS's default, which is its fastest for back-to-back GEMMs.
OPENBLAS_QUIET = {"OPENBLAS_THREAD_TIMEOUT": "4"}
_CHILD_ENV = "MINIGRAD_BENCH_CHILD"


def _child_env(drop_openblas_tuning=False, extra=None, quiet_openblas=False):
    """This environment plus MALLOC_ENV (where unset); without OPENBLAS_TUNING_VARS if asked,
    with OPENBLAS_QUIET (where unset) for a process that times several implementations."""
    env = dict(os.environ)
    env.update({k: v for k, v in MALLOC_ENV.items() if k not in env})
    if quiet_openblas:
        env.update({k: v for k, v in OPENBLAS_QUIET.items() if k not in env})
    if drop_openblas_tuning:
        for k in OPENBLAS_TUNING_VARS:
            env.pop(k, None)
    env.update(extra or {})
    return env


def _threads_env(threads):
    return {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}


def _run_child(task, env, timeout=None):
    """Run `python -m minigrad.bench --child` on one task (a JSON dict); its JSON answer."""
    proc = subprocess.run([sys.executable, "-m", "minigrad.bench", "--child"],
                          input=json.dumps(task), env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"child {task['task']} failed: " + " | ".join(tail))
    return json.loads(proc.stdout.strip().splitlines()[-1])

"""The GEMM's per-thread pack buffers are freed when their thread exits (issue 8, item 2).

Each thread that runs a GEMM -- the calling Python thread and the OpenMP team libgomp keeps for
it -- gets its own grow-only pack buffers (gemm_driver.h). A short-lived thread used to leave
them behind: 400 threads each running nn.Linear(512, 512) grew RSS by 318 MB. The check runs in
a child process, so the numbers are not blurred by what the rest of the suite allocated.
"""

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("minigrad.kernels.cpu.gemm")

# Resident set size from /proc/self/statm; warm-up threads first, so that what malloc keeps for
# reuse (arenas, the mmap threshold) is already counted before the measurement starts.
CHILD = textwrap.dedent("""
    import os, threading
    import numpy as np
    import minigrad as mg
    from minigrad import nn
    from minigrad.backend import cpu

    assert cpu.kernel_sources()["matmul"] == "cython", cpu.kernel_sources()

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    layer = nn.Linear(512, 512)
    x = mg.tensor(np.random.default_rng(0).standard_normal((64, 512)).astype(np.float32))
    want = layer(x).detach().numpy()
    results = []

    def work():
        results.append(bool(np.allclose(layer(x).detach().numpy(), want, rtol=1e-5, atol=1e-5)))

    def run_threads(n):
        for _ in range(n):
            t = threading.Thread(target=work)
            t.start()
            t.join()

    run_threads(40)
    before = rss()
    run_threads({threads})
    after = rss()
    assert all(results) and len(results) == 40 + {threads}, "a thread computed a wrong product"
    print(f"growth {{(after - before) / 2**20:.1f}} MB")
""")


@pytest.mark.parametrize("omp_threads", ["1", "2"])
def test_short_lived_threads_do_not_leak_pack_buffers(omp_threads):
    threads = 300
    # OMP_NUM_THREADS=1: only the Python thread's buffers; 2: its OpenMP worker's too.
    env = dict(os.environ, OMP_NUM_THREADS=omp_threads)
    result = subprocess.run([sys.executable, "-c", CHILD.format(threads=threads)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    growth_mb = float(result.stdout.split("growth")[1].split()[0])
    # The buffers of one 64x512x512 float32 GEMM are about 1 MB per thread, so a leak grows
    # by hundreds of MB here; PyTorch grows about 2 MB over 400 such threads.
    assert growth_mb < 50, f"RSS grew by {growth_mb:.1f} MB over {threads} short-lived threads"

"""The machine and its libraries: CPU, versions, BLAS (via threadpoolctl), load average, the
thread count every library gets, and context managers that set those thread counts."""

import os
import platform
import time

import numpy as np

from .child import MALLOC_ENV, OPENBLAS_TUNING_VARS


def _threadpool_blas():
    """What threadpoolctl reports for the BLAS libraries loaded here ([] if not installed)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keys = ("internal_api", "architecture", "version", "num_threads", "threading_layer",
            "filepath")
    return [{k: d.get(k) for k in keys} for d in threadpool_info() if d.get("user_api") == "blas"]


def _cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gemm_module():
    try:
        from ..kernels.cpu import gemm
    except ImportError:
        return None
    return gemm


def bench_threads(cfg=None):
    """Thread count every library gets: cfg.threads, else our GEMM's (OMP_NUM_THREADS or all
    cores)."""
    if cfg is not None and cfg.threads:
        return int(cfg.threads)
    gemm = _gemm_module()
    if gemm is not None and not os.environ.get("MINIGRAD_DISABLE_EXT"):
        return int(gemm.get_num_threads())
    return int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)


def _import_torch(cfg):
    if not cfg.torch:
        return None
    try:
        import torch
    except Exception:  # noqa: BLE001  (a broken torch install must not break the benchmark)
        return None
    return torch


def machine_info(threads, torch=None):
    from ..backend import cpu

    gemm = _gemm_module()
    info = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": None if torch is None else torch.__version__,
        "threads": threads,
        "torch_threads": None if torch is None else torch.get_num_threads(),
        "omp_num_threads_env": os.environ.get("OMP_NUM_THREADS"),
        "openblas_env": {k: os.environ[k] for k in OPENBLAS_TUNING_VARS if k in os.environ},
        "malloc_env": {k: os.environ.get(k) for k in MALLOC_ENV},
        "blas_this_process": _threadpool_blas(),
        "threadpoolctl": _has_threadpoolctl(),
        "gemm_isa": None if gemm is None else gemm.isa(),
        "gemm_available_isas": None if gemm is None else list(gemm.available_isas()),
        "gemm_openmp": None if gemm is None else bool(gemm.has_openmp()),
        "kernel_sources": cpu.kernel_sources(),
        "loadavg_start": _loadavg(),
    }
    return info


def _has_threadpoolctl():
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return False
    return True


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


class _ThreadLimits:
    """For cfg.threads: every compiled kernel (mg.set_num_threads), and every OpenMP/BLAS pool
    threadpoolctl sees, at n threads; restored on exit. Nothing when n is 0 (the defaults are
    used and merely recorded)."""

    def __init__(self, n):
        self.n, self.ctx, self.active, self.prev = n, None, False, None

    def __enter__(self):
        if not self.n:
            return self
        from .. import threads

        self.prev, self.active = threads._setting, True
        threads.set_num_threads(int(self.n))
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self
        self.ctx = threadpool_limits(self.n)
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()
        if self.active:
            from .. import threads

            threads._restore(self.prev)


class _BlasThreads:
    """OpenBLAS (only BLAS, not OpenMP) at n threads while active, if threadpoolctl is here."""

    def __init__(self, n):
        self.n, self.ctx = n, None

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            return self
        self.ctx = threadpool_limits(self.n, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()

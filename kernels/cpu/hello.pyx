"""Smoke-test kernel: proves that the Cython build, nogil code and OpenMP linkage work."""
from cython.parallel cimport parallel, prange, threadid


def parallel_sum(x):
    """Sum of x (a 1-D C-contiguous float64 array), computed in a prange reduction (serial when
    built without OpenMP)."""
    import numpy as np

    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise TypeError(f"parallel_sum: x must be a float64 numpy array, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim != 1 or not x.flags.c_contiguous:
        raise ValueError(f"parallel_sum: x must be 1-D and C-contiguous, got shape {x.shape}, "
                         f"strides {x.strides}")
    return _parallel_sum(x)


def _parallel_sum(const double[::1] x):
    cdef Py_ssize_t i
    cdef double total = 0.0
    for i in prange(x.shape[0], nogil=True, schedule="static"):
        total += x[i]
    return total


def openmp_threads():
    """How many threads a parallel region gets here (1 when built without OpenMP)."""
    cdef int i
    cdef int most = 0
    for i in prange(256, nogil=True, schedule="static", chunksize=1):
        most = max(most, threadid())
    return most + 1


include "threads.pxi"


def thread_num():
    """This thread's number in its OpenMP team (0 outside a parallel region)."""
    return mg_thread_num()


cdef int _run_in_region(object fn, int num_threads) except -1:
    cdef int team[1]
    team[0] = 1
    with nogil, parallel(num_threads=num_threads):
        if mg_thread_num() == 0:
            team[0] = mg_team_size()
        with gil:
            fn()
    return team[0]


def call_in_parallel_region(fn, int num_threads):
    """Call fn() once on every thread of an OpenMP parallel region of num_threads threads and
    return the team size. A test helper: kernels that fn calls then run nested in an outer
    region, where OpenMP grants their own regions one thread. The first exception any call
    raised is re-raised here."""
    if not callable(fn):
        raise TypeError(f"call_in_parallel_region: fn must be callable, got {type(fn).__name__}")
    if num_threads < 1:
        raise ValueError(f"call_in_parallel_region: num_threads must be at least 1, got "
                         f"{num_threads}")
    errors = []

    def guarded():
        try:
            fn()
        except BaseException as e:  # noqa: B902 (re-raised below, on the calling thread)
            errors.append(e)

    team = _run_in_region(guarded, num_threads)
    if errors:
        raise errors[0]
    return team

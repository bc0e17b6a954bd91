"""Smoke-test kernel: proves that the Cython build, nogil code and OpenMP linkage work."""
from cython.parallel cimport parallel, prange, threadid


def parallel_sum(const double[::1] x):
    """Sum of x, computed in a prange reduction (serial when built without OpenMP)."""
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

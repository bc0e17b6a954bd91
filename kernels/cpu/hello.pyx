"""Smoke-test kernel: proves that the Cython build, nogil code and OpenMP linkage work."""
from cython.parallel cimport prange, threadid


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

"""Native float32/float64 matrix multiply: our own BLIS-style blocked GEMM (no BLAS).

``matmul(a, b, trans_a=False, trans_b=False)`` returns ``op(a) @ op(b)`` as a new
C-contiguous array, where ``op(x)`` is ``x.swapaxes(-1, -2)`` when the matching flag is
set.  Batch (leading) dimensions broadcast as in ``numpy.matmul``.

Everything is validated here with the GIL held; the C driver (gemm_micro.h,
gemm_driver.h) then runs without the GIL.  Inputs are never copied just because they are
transposed, sliced with a step, broadcast (stride 0) or read-only: the packing routines
read them through their row/column strides.  The only copy is for arrays whose strides
are not whole multiples of the item size (e.g. a view into a packed record array).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t
from libc.stddef cimport ptrdiff_t

cnp.import_array()

include "threads.pxi"

cdef extern from "gemm_micro.h" nogil:
    int mg_gemm_batched_s(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                          const float *A, const int64_t *aoff, ptrdiff_t rsa, ptrdiff_t csa,
                          const float *B, const int64_t *boff, ptrdiff_t rsb, ptrdiff_t csb,
                          float *C)
    int mg_gemm_batched_d(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                          const double *A, const int64_t *aoff, ptrdiff_t rsa, ptrdiff_t csa,
                          const double *B, const int64_t *boff, ptrdiff_t rsb, ptrdiff_t csb,
                          double *C)
    int mg_gemm_set_isa(int isa)
    int mg_gemm_get_isa()
    int mg_gemm_max_isa()

ISA_NAMES = ("scalar", "avx2", "avx512")

cdef const int64_t[::1] _ZERO_OFFSET = np.zeros(1, dtype=np.int64)


def _batch_offsets(shape, strides, Py_ssize_t itemsize, out_shape):
    """Element offset of every matrix of a batch, broadcast to out_shape, flattened."""
    cdef Py_ssize_t nd = len(out_shape)
    cdef Py_ssize_t pad = nd - len(shape)
    off = np.zeros((1,) * nd, dtype=np.int64)
    for d in range(len(shape)):
        n = shape[d]
        if n > 1:  # a size-1 dimension broadcasts: its stride is irrelevant
            idx = np.arange(n, dtype=np.int64) * (strides[d] // itemsize)
            off = off + idx.reshape((1,) * (pad + d) + (n,) + (1,) * (nd - pad - d - 1))
    return np.ascontiguousarray(np.broadcast_to(off, out_shape), dtype=np.int64).reshape(-1)


cdef inline bint _strides_ok(cnp.ndarray x, Py_ssize_t itemsize):
    cdef Py_ssize_t d
    for d in range(x.ndim):
        if x.strides[d] % itemsize != 0:
            return False
    return True


def matmul(a, b, trans_a=False, trans_b=False):
    """op(a) @ op(b) for float32/float64 arrays with ndim >= 2 (numpy batch broadcasting).

    Args:
        a: array (..., M, K), or (..., K, M) with trans_a=True.
        b: array (..., K, N), or (..., N, K) with trans_b=True; same dtype as a.
        trans_a, trans_b: use the operand with its last two axes swapped (no copy).
    Returns:
        New C-contiguous array (broadcast(batch_a, batch_b) + (M, N)) of a's dtype.
    Raises:
        TypeError: dtypes differ or are not float32/float64.
        ValueError: ndim < 2, inner dimensions differ, or batch dims don't broadcast.
    """
    cdef cnp.ndarray A = a if type(a) is np.ndarray else np.asarray(a)
    cdef cnp.ndarray B = b if type(b) is np.ndarray else np.asarray(b)
    cdef int tnum = cnp.PyArray_TYPE(A)
    if (tnum != cnp.PyArray_TYPE(B) or (tnum != cnp.NPY_FLOAT and tnum != cnp.NPY_DOUBLE)
            or not A.dtype.isnative or not B.dtype.isnative):
        raise TypeError(
            f"matmul: expected two float32 or two float64 arrays, got {A.dtype} and {B.dtype}")
    if A.ndim < 2 or B.ndim < 2:
        raise ValueError(
            f"matmul: both operands need at least 2 dimensions, got shapes "
            f"{(<object>A).shape} and {(<object>B).shape}")
    cdef Py_ssize_t it = A.itemsize
    if not _strides_ok(A, it):
        A = np.ascontiguousarray(A)
    if not _strides_ok(B, it):
        B = np.ascontiguousarray(B)
    ashape, bshape0 = (<object>A).shape, (<object>B).shape
    astrides, bstrides = (<object>A).strides, (<object>B).strides

    cdef Py_ssize_t M = A.shape[A.ndim - 2], K = A.shape[A.ndim - 1]
    cdef Py_ssize_t rsa = A.strides[A.ndim - 2] // it, csa = A.strides[A.ndim - 1] // it
    cdef Py_ssize_t K2 = B.shape[B.ndim - 2], N = B.shape[B.ndim - 1]
    cdef Py_ssize_t rsb = B.strides[B.ndim - 2] // it, csb = B.strides[B.ndim - 1] // it
    if trans_a:
        M, K = K, M
        rsa, csa = csa, rsa
    if trans_b:
        K2, N = N, K2
        rsb, csb = csb, rsb
    if K != K2:
        raise ValueError(
            f"matmul: shapes {ashape[:A.ndim - 2] + (M, K)} and {bshape0[:B.ndim - 2] + (K2, N)} "
            f"are not aligned: {K} != {K2}")

    cdef const int64_t[::1] aoff = _ZERO_OFFSET
    cdef const int64_t[::1] boff = _ZERO_OFFSET
    cdef Py_ssize_t batch = 1
    if A.ndim == 2 and B.ndim == 2:
        out_shape = (M, N)
    else:
        sa, sb = ashape[:A.ndim - 2], bshape0[:B.ndim - 2]
        try:
            bshape = np.broadcast_shapes(sa, sb)
        except ValueError:
            raise ValueError(
                f"matmul: batch dimensions {sa} and {sb} cannot be broadcast together "
                f"(shapes {ashape} and {bshape0})") from None
        out_shape = tuple(bshape) + (M, N)
        batch = 1
        for n in bshape:
            batch *= n
        if batch > 0 and M > 0 and N > 0 and K > 0:
            aoff = _batch_offsets(sa, astrides[:A.ndim - 2], it, bshape)
            boff = _batch_offsets(sb, bstrides[:B.ndim - 2], it, bshape)

    if batch == 0 or M == 0 or N == 0 or K == 0:
        return np.zeros(out_shape, dtype=A.dtype)  # K == 0: empty sums are 0
    cdef cnp.ndarray C = np.empty(out_shape, dtype=A.dtype)
    cdef char *pa = <char *>cnp.PyArray_DATA(A)
    cdef char *pb = <char *>cnp.PyArray_DATA(B)
    cdef char *pc = <char *>cnp.PyArray_DATA(C)
    cdef int err
    if tnum == cnp.NPY_FLOAT:
        with nogil:
            err = mg_gemm_batched_s(batch, M, N, K, <const float *>pa, &aoff[0], rsa, csa,
                                    <const float *>pb, &boff[0], rsb, csb, <float *>pc)
    else:
        with nogil:
            err = mg_gemm_batched_d(batch, M, N, K, <const double *>pa, &aoff[0], rsa, csa,
                                    <const double *>pb, &boff[0], rsb, csb, <double *>pc)
    if err:
        raise MemoryError("matmul: could not allocate GEMM packing buffers")
    return C


def isa():
    """Name of the micro-kernel family in use: 'avx512', 'avx2' or 'scalar'."""
    return ISA_NAMES[mg_gemm_get_isa()]


def available_isas():
    """Kernel families this CPU can run, slowest first."""
    return ISA_NAMES[: mg_gemm_max_isa() + 1]


def set_isa(name=None):
    """Force a kernel family (tests/benchmarks); None restores the best one."""
    if name is None:
        mg_gemm_set_isa(-1)
        return
    if name not in ISA_NAMES:
        raise ValueError(f"set_isa: unknown ISA {name!r}; choose from {ISA_NAMES}")
    if mg_gemm_set_isa(ISA_NAMES.index(name)) != 0:
        raise ValueError(f"set_isa: this CPU does not support {name!r}")

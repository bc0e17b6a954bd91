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
include "checks.pxi"

cdef extern from "gemm_micro.h" nogil:
    int mg_gemm_batched_s(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                          const float *A, const int64_t *aoff, ptrdiff_t rsa, ptrdiff_t csa,
                          const float *B, const int64_t *boff, ptrdiff_t rsb, ptrdiff_t csb,
                          float *C)
    int mg_gemm_batched_d(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                          const double *A, const int64_t *aoff, ptrdiff_t rsa, ptrdiff_t csa,
                          const double *B, const int64_t *boff, ptrdiff_t rsb, ptrdiff_t csb,
                          double *C)
    int mg_conv_fwd_implicit_s(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t O,
                               ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh, ptrdiff_t sw,
                               ptrdiff_t OH, ptrdiff_t OW, int has_bias, const float *x,
                               const float *wk, float *y)
    int mg_conv_fwd_implicit_d(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t O,
                               ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh, ptrdiff_t sw,
                               ptrdiff_t OH, ptrdiff_t OW, int has_bias, const double *x,
                               const double *wk, double *y)
    int mg_conv_dw_implicit_s(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t O,
                              ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh, ptrdiff_t sw,
                              ptrdiff_t OH, ptrdiff_t OW, const float *x, const float *gy,
                              float *gwt)
    int mg_conv_dw_implicit_d(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t O,
                              ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh, ptrdiff_t sw,
                              ptrdiff_t OH, ptrdiff_t OW, const double *x, const double *gy,
                              double *gwt)
    int mg_conv_dx_implicit_s(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t O,
                              ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh, ptrdiff_t sw,
                              ptrdiff_t OH, ptrdiff_t OW, const float *w, const float *gy,
                              float *gx)
    int mg_conv_dx_implicit_d(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t O,
                              ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh, ptrdiff_t sw,
                              ptrdiff_t OH, ptrdiff_t OW, const double *w, const double *gy,
                              double *gx)
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


def _positive_pair(str op, str name, value):
    import operator
    try:
        a, b = value
        if isinstance(a, bool) or isinstance(b, bool):
            raise TypeError
        a, b = operator.index(a), operator.index(b)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: {name} must be a pair of ints, got {value!r}") from None
    if a < 1 or b < 1:
        raise ValueError(f"{op}: {name} must be positive, got {value!r}")
    return a, b


def _conv_geometry(str op, x, kernel_size, stride):
    """(KH, KW, sh, sw, OH, OW) of an unpadded window over x (N, C, H, W), checked; a stride
    past the input is clamped to it (one output row/column either way)."""
    KH, KW = _positive_pair(op, "kernel_size", kernel_size)
    sh, sw = _positive_pair(op, "stride", stride)
    H, W = x.shape[2], x.shape[3]
    if KH > H or KW > W:
        raise ValueError(f"{op}: kernel {(KH, KW)} larger than the input {(H, W)}")
    sh, sw = min(sh, H), min(sw, W)
    return KH, KW, sh, sw, (H - KH) // sh + 1, (W - KW) // sw + 1


def conv2d_forward_implicit(x, wk, y, kernel_size, stride, bint has_bias):
    """Implicit-GEMM convolution: y[n, o] = sum over the window of wk[o, k] * x (+ bias).

    x: (N, C, H, W), already padded (this kernel has no padding of its own).
    wk: (O, C*KH*KW + has_bias), the weights flattened, with the bias as its last column
        when has_bias.
    y: (N, O, OH, OW) output, OH = (H - KH)//sh + 1, OW = (W - KW)//sw + 1; overwritten.
    All C-contiguous, one dtype (float32 or float64); y must not share memory with x or wk.
    The im2col matrix is never built: the GEMM packs its panels straight from x
    (conv_implicit_t.h).
    """
    op = "conv2d_forward_implicit"
    _arg_array(op, "x", x, 4)
    _arg_array(op, "wk", wk, 2)
    _arg_array(op, "y", y, 4, out=True)
    _same_dtype(op, x=x, wk=wk, y=y)
    kh_, kw_, sh_, sw_, oh_, ow_ = _conv_geometry(op, x, kernel_size, stride)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t KH = kh_, KW = kw_, sh = sh_, sw = sw_, OH = oh_, OW = ow_
    cdef Py_ssize_t O = wk.shape[0]
    expect_w = (O, C * KH * KW + (1 if has_bias else 0))
    if wk.shape != expect_w:
        raise ValueError(f"{op}: wk {wk.shape} should be {expect_w} for input {x.shape}, "
                         f"kernel {(KH, KW)}, has_bias={bool(has_bias)}")
    if y.shape != (N, O, OH, OW):
        raise ValueError(f"{op}: y {y.shape} should be {(N, O, OH, OW)}")
    _no_overlap(op, "y", y, x=x, wk=wk)
    if N == 0 or O == 0:
        return y
    if C == 0:  # an empty sum: y is the bias (or 0)
        y[...] = wk[:, -1].reshape(1, O, 1, 1) if has_bias else 0
        return y
    cdef int err
    cdef char *px = <char *>cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef char *pw = <char *>cnp.PyArray_DATA(<cnp.ndarray>wk)
    cdef char *py = <char *>cnp.PyArray_DATA(<cnp.ndarray>y)
    cdef int hb = 1 if has_bias else 0
    if x.dtype == np.float32:
        with nogil:
            err = mg_conv_fwd_implicit_s(N, C, H, W, O, KH, KW, sh, sw, OH, OW, hb,
                                         <const float *>px, <const float *>pw, <float *>py)
    else:
        with nogil:
            err = mg_conv_fwd_implicit_d(N, C, H, W, O, KH, KW, sh, sw, OH, OW, hb,
                                         <const double *>px, <const double *>pw, <double *>py)
    if err:
        raise MemoryError(f"{op}: could not allocate packing buffers")
    return y


def conv2d_grad_weight_implicit(x, gy, gwt, kernel_size, stride):
    """Implicit-GEMM weight gradient: gwt[k, o] = sum over images and output pixels of the
    window element k of x times gy[n, o] (k = (c*KH + i)*KW + j), i.e. gw.reshape(O, -1).T.

    x: (N, C, H, W), already padded.  gy: (N, O, OH, OW), OH = (H - KH)//sh + 1, OW likewise.
    gwt: (C*KH*KW, O) output, overwritten.  All C-contiguous, one dtype (float32 or float64);
    gwt must not share memory with x or gy.  Neither the column matrix nor a transposed copy
    of gy is built: the GEMM packs both operands straight from x and gy (conv_implicit_t.h).
    """
    op = "conv2d_grad_weight_implicit"
    _arg_array(op, "x", x, 4)
    _arg_array(op, "gy", gy, 4)
    _arg_array(op, "gwt", gwt, 2, out=True)
    _same_dtype(op, x=x, gy=gy, gwt=gwt)
    kh_, kw_, sh_, sw_, oh_, ow_ = _conv_geometry(op, x, kernel_size, stride)
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t KH = kh_, KW = kw_, sh = sh_, sw = sw_, OH = oh_, OW = ow_
    cdef Py_ssize_t O = gy.shape[1]
    if gy.shape != (N, O, OH, OW):
        raise ValueError(f"{op}: gy {gy.shape} should be {(N, O, OH, OW)} for input {x.shape}, "
                         f"kernel {(KH, KW)}, stride {(sh, sw)}")
    if gwt.shape != (C * KH * KW, O):
        raise ValueError(f"{op}: gwt {gwt.shape} should be {(C * KH * KW, O)}")
    _no_overlap(op, "gwt", gwt, x=x, gy=gy)
    if gwt.size == 0:
        return gwt
    if N == 0:  # an empty sum
        gwt[...] = 0
        return gwt
    cdef int err
    cdef char *px = <char *>cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef char *pg = <char *>cnp.PyArray_DATA(<cnp.ndarray>gy)
    cdef char *pw = <char *>cnp.PyArray_DATA(<cnp.ndarray>gwt)
    if x.dtype == np.float32:
        with nogil:
            err = mg_conv_dw_implicit_s(N, C, H, W, O, KH, KW, sh, sw, OH, OW,
                                        <const float *>px, <const float *>pg, <float *>pw)
    else:
        with nogil:
            err = mg_conv_dw_implicit_d(N, C, H, W, O, KH, KW, sh, sw, OH, OW,
                                        <const double *>px, <const double *>pg, <double *>pw)
    if err:
        raise MemoryError(f"{op}: could not allocate packing buffers")
    return gwt


def conv2d_grad_input_implicit(gy, w, gx, stride):
    """Implicit-GEMM input gradient: gx = the adjoint of the (unpadded) convolution with w,
    applied to gy -- col2im(W^T @ gy) without either matrix: each tile of gradient columns is
    added into gx straight from the GEMM's micro-kernel (conv_implicit_t.h).

    gy: (N, O, OH, OW).  w: (O, C, KH, KW).  gx: (N, C, H, W) output, the gradient of the
    padded input (the caller crops the padding), overwritten; OH = (H - KH)//sh + 1 and
    OW = (W - KW)//sw + 1.  All C-contiguous, one dtype (float32 or float64); gx must not
    share memory with gy or w.
    """
    op = "conv2d_grad_input_implicit"
    _arg_array(op, "gy", gy, 4)
    _arg_array(op, "w", w, 4)
    _arg_array(op, "gx", gx, 4, out=True)
    _same_dtype(op, gy=gy, w=w, gx=gx)
    if w.shape[1] != gx.shape[1] or w.shape[0] != gy.shape[1]:
        raise ValueError(f"{op}: w {w.shape} does not connect gy {gy.shape} to gx {gx.shape}")
    kh_, kw_, sh_, sw_, oh_, ow_ = _conv_geometry(op, gx, w.shape[2:], stride)
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    cdef Py_ssize_t KH = kh_, KW = kw_, sh = sh_, sw = sw_, OH = oh_, OW = ow_
    cdef Py_ssize_t O = w.shape[0]
    if gy.shape != (N, O, OH, OW):
        raise ValueError(f"{op}: gy {gy.shape} should be {(N, O, OH, OW)} for gx {gx.shape}, "
                         f"kernel {(KH, KW)}, stride {(sh, sw)}")
    _no_overlap(op, "gx", gx, gy=gy, w=w)
    if gx.size == 0:
        return gx
    if O == 0:  # an empty sum
        gx[...] = 0
        return gx
    cdef int err
    cdef char *pg = <char *>cnp.PyArray_DATA(<cnp.ndarray>gy)
    cdef char *pw = <char *>cnp.PyArray_DATA(<cnp.ndarray>w)
    cdef char *px = <char *>cnp.PyArray_DATA(<cnp.ndarray>gx)
    if gx.dtype == np.float32:
        with nogil:
            err = mg_conv_dx_implicit_s(N, C, H, W, O, KH, KW, sh, sw, OH, OW,
                                        <const float *>pw, <const float *>pg, <float *>px)
    else:
        with nogil:
            err = mg_conv_dx_implicit_d(N, C, H, W, O, KH, KW, sh, sw, OH, OW,
                                        <const double *>pw, <const double *>pg, <double *>px)
    if err:
        raise MemoryError(f"{op}: could not allocate packing buffers")
    return gx


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

"""im2col / col2im for NCHW convolution, plus the layout shuffles around the GEMMs (Cython, OpenMP).

minigrad/backend/cpu.py composes these with a GEMM: conv = im2col + matmul, grad_input =
matmul + col2im, grad_weight = im2col + matmul. The wrappers here check shapes and dtypes with
the GIL held, then run a nogil core parallelised (prange) over (image, channel) planes or
images, so no two threads ever write the same element. Inputs are `const` C-contiguous
memoryviews (read-only arrays are fine); the caller makes them contiguous. cpu.py passes
arrays it allocated itself for the outputs.
"""
from cython cimport floating
from cython.parallel cimport parallel, prange

from libc.string cimport memcpy, memset

from minigrad.backend.window import check_window

include "threads.pxi"
include "checks.pxi"


cdef inline Py_ssize_t _first_valid(Py_ssize_t offset, Py_ssize_t step) noexcept nogil:
    """Smallest o >= 0 with 0 <= o*step + offset, for the valid output range along one axis."""
    if offset >= 0:
        return 0
    return (-offset + step - 1) // step


cdef inline Py_ssize_t _end_valid(Py_ssize_t offset, Py_ssize_t step, Py_ssize_t size,
                                  Py_ssize_t n_out) noexcept nogil:
    """One past the largest o < n_out with o*step + offset < size."""
    cdef Py_ssize_t end
    if size - offset <= 0:
        return 0
    end = (size - offset + step - 1) // step
    return end if end < n_out else n_out


def _check_unit_stride(str op, Py_ssize_t size, Py_ssize_t stride, Py_ssize_t itemsize):
    # cols is a strided memoryview (so it can be a swapaxes view), but the loops below walk
    # its last axis with a plain pointer, which needs that axis to be contiguous.
    if stride != itemsize and size > 1:
        raise ValueError(f"{op}: cols must be contiguous along its last axis (stride {stride})")


def _check_geometry(str op, tuple x_shape, tuple cols_shape, tuple kernel_size, tuple stride,
                    tuple padding):
    # The window rules every layer shares (minigrad/backend/window.py): positive sizes, the
    # kernel fits the padded input, every size and product within int64.
    N, C = x_shape[:2]
    OH, OW = check_window(op, x_shape, kernel_size, stride, padding, pool=False)
    KH, KW = kernel_size
    expected = (N, C * KH * KW, OH * OW)
    if cols_shape != expected:
        raise ValueError(f"{op}: cols {cols_shape} should be {expected} for input {x_shape}, "
                         f"kernel {kernel_size}, stride {stride}, padding {padding}")
    return OH, OW


def _im2col(const floating[:, :, :, ::1] x, floating[:, :, :] cols, tuple kernel_size,
           tuple stride, tuple padding):
    """Fill cols[n, (c*KH + i)*KW + j, oh*OW + ow] = x_padded[n, c, oh*sh + i, ow*sw + j].

    x: (N, C, H, W) C-contiguous.  cols: (N, C*KH*KW, OH*OW), contiguous along its last axis
    only, so it may be a swapaxes(0, 1) view of a (C*KH*KW, N, OH*OW) buffer: then one GEMM
    covers the whole batch. Every element of cols is written (padding positions get 0).

    Parallel over the N*C (image, channel) planes; each plane owns KH*KW rows of cols.
    For each kernel offset (i, j) the valid output range [oh0, oh1) x [ow0, ow1) is computed
    once, so the inner loop has no bounds tests.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    _check_unit_stride("im2col", cols.shape[2], cols.strides[2], sizeof(floating))
    OH_, OW_ = _check_geometry("im2col", (N, C, H, W),
                               (cols.shape[0], cols.shape[1], cols.shape[2]), kernel_size,
                               stride, padding)
    cdef Py_ssize_t KH = kernel_size[0], KW = kernel_size[1]
    cdef Py_ssize_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef Py_ssize_t OH = OH_, OW = OW_
    cdef Py_ssize_t row_stride = cols.strides[1] // sizeof(floating)
    cdef Py_ssize_t plane, n, c
    cdef int threads = mg_threads_for(N * C * KH * KW * OH * OW)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for plane in prange(N * C, schedule="static"):
            c = plane // N  # channel-major: consecutive planes touch consecutive pieces of
            n = plane % N   # each cols row (cols[:, n, :] are adjacent), a sequential stream
            _im2col_plane(&x[n, c, 0, 0], &cols[n, c * KH * KW, 0], row_stride, H, W, OH, OW,
                          KH, KW, sh, sw, ph, pw)


cdef inline void _im2col_plane(const floating* x, floating* cols, Py_ssize_t row_stride,
                               Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                               Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t sh, Py_ssize_t sw,
                               Py_ssize_t ph, Py_ssize_t pw) noexcept nogil:
    """The KH*KW rows of cols that one (H, W) input plane fills; row k starts at
    cols + k*row_stride. Plain loops rather than memcpy: the rows are short (OW elements), where
    a library call costs more than the copy."""
    cdef Py_ssize_t i, j, oh, ow, oh0, oh1, ow0, ow1, first, last
    cdef floating* dst
    cdef const floating* src
    for i in range(KH):
        oh0 = _first_valid(i - ph, sh)
        oh1 = _end_valid(i - ph, sh, H, OH)
        for j in range(KW):
            dst = cols + (i * KW + j) * row_stride
            ow0 = _first_valid(j - pw, sw)
            ow1 = _end_valid(j - pw, sw, W, OW)
            first, last = oh0, oh1  # output rows [first, last) read real input rows
            if last <= first or ow1 <= ow0:  # this offset only ever sees padding
                first = last = OH
            for ow in range(first * OW):
                dst[ow] = 0
            for oh in range(first, last):
                # src[ow*sw] is x[oh*sh - ph + i, ow*sw - pw + j]; only [ow0, ow1) is inside.
                src = x + (oh * sh - ph + i) * W + (j - pw)
                for ow in range(ow0):
                    dst[oh * OW + ow] = 0
                if sw == 1:
                    for ow in range(ow0, ow1):
                        dst[oh * OW + ow] = src[ow]
                else:
                    for ow in range(ow0, ow1):
                        dst[oh * OW + ow] = src[ow * sw]
                for ow in range(ow1, OW):
                    dst[oh * OW + ow] = 0
            for ow in range(last * OW, OH * OW):
                dst[ow] = 0


def _col2im(const floating[:, :, :] cols, floating[:, :, :, ::1] gx, tuple kernel_size,
           tuple stride, tuple padding):
    """Adjoint of im2col: gx[n, c, ih, iw] = sum of the cols entries im2col copied from there.

    cols: (N, C*KH*KW, OH*OW), contiguous along its last axis only.  gx: (N, C, H, W)
    C-contiguous; overwritten (zeroed first), so it may be np.empty. Padding positions are
    simply never written, and pixels no window reaches (H + 2p - K not a multiple of the
    stride) stay 0.

    Parallel over the N*C planes: plane (n, c) reads only its own KH*KW rows of cols and writes
    only gx[n, c], so overlapping windows accumulate without races.
    """
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    _check_unit_stride("col2im", cols.shape[2], cols.strides[2], sizeof(floating))
    OH_, OW_ = _check_geometry("col2im", (N, C, H, W),
                               (cols.shape[0], cols.shape[1], cols.shape[2]), kernel_size,
                               stride, padding)
    cdef Py_ssize_t KH = kernel_size[0], KW = kernel_size[1]
    cdef Py_ssize_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef Py_ssize_t OH = OH_, OW = OW_
    cdef Py_ssize_t row_stride = cols.strides[1] // sizeof(floating)
    cdef Py_ssize_t plane, n, c
    cdef int threads = mg_threads_for(N * C * KH * KW * OH * OW)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for plane in prange(N * C, schedule="static"):
            c = plane // N  # channel-major: consecutive planes touch consecutive pieces of
            n = plane % N   # each cols row (cols[:, n, :] are adjacent), a sequential stream
            _col2im_plane(&cols[n, c * KH * KW, 0], row_stride, &gx[n, c, 0, 0], H, W, OH, OW,
                          KH, KW, sh, sw, ph, pw)


cdef inline void _col2im_plane(const floating* cols, Py_ssize_t row_stride, floating* gx,
                               Py_ssize_t H, Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW,
                               Py_ssize_t KH, Py_ssize_t KW, Py_ssize_t sh, Py_ssize_t sw,
                               Py_ssize_t ph, Py_ssize_t pw) noexcept nogil:
    """One (H, W) plane of col2im: zero it, then add back its KH*KW rows of cols."""
    cdef Py_ssize_t i, j, oh, ow, oh0, oh1, ow0, ow1
    cdef floating* dst
    cdef const floating* src
    memset(gx, 0, H * W * sizeof(floating))
    for i in range(KH):
        oh0 = _first_valid(i - ph, sh)
        oh1 = _end_valid(i - ph, sh, H, OH)
        for j in range(KW):
            src = cols + (i * KW + j) * row_stride
            ow0 = _first_valid(j - pw, sw)
            ow1 = _end_valid(j - pw, sw, W, OW)
            for oh in range(oh0, oh1):
                # dst[ow*sw] is gx[oh*sh - ph + i, ow*sw - pw + j]; only [ow0, ow1) is inside.
                dst = gx + (oh * sh - ph + i) * W + (j - pw)
                if sw == 1:
                    for ow in range(ow0, ow1):
                        dst[ow] += src[oh * OW + ow]
                else:
                    for ow in range(ow0, ow1):
                        dst[ow * sw] += src[oh * OW + ow]


def _swap01(const floating[:, :, ::1] src, floating[:, :, ::1] dst, const floating[::1] bias=None):
    """dst[b, a, :] = src[a, b, :] (+ bias[a]): the (O, N, L) <-> (N, O, L) shuffle around a
    whole-batch GEMM, fused with the bias add. Parallel over dst's first axis."""
    cdef Py_ssize_t A = src.shape[0], B = src.shape[1], L = src.shape[2]
    if (dst.shape[0], dst.shape[1], dst.shape[2]) != (B, A, L):
        raise ValueError(f"swap01: dst {(dst.shape[0], dst.shape[1], dst.shape[2])} should be "
                         f"{(B, A, L)} for src {(src.shape[0], src.shape[1], src.shape[2])}")
    if bias is not None and bias.shape[0] != A:
        raise ValueError(f"swap01: bias has {bias.shape[0]} entries, expected {A}")
    cdef bint has_bias = bias is not None
    cdef Py_ssize_t a, b, l
    cdef floating shift
    cdef int threads = mg_threads_for(A * B * L)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for b in prange(B, schedule="static"):
            for a in range(A):
                if has_bias:
                    shift = bias[a]
                    for l in range(L):
                        dst[b, a, l] = src[a, b, l] + shift
                else:
                    memcpy(&dst[b, a, 0], &src[a, b, 0], L * sizeof(floating))


def im2col(x, cols, kernel_size, stride, padding):
    """Fill cols (N, C*KH*KW, OH*OW) with the windows of x (N, C, H, W); see _im2col.
    cols may be strided (e.g. a swapaxes view) but must be contiguous along its last axis."""
    x = _arg_array("im2col", "x", x, 4)
    cols = _arg_array("im2col", "cols", cols, 3, out=True, contiguous=False)
    _same_dtype("im2col", x=x, cols=cols)
    _no_overlap("im2col", "cols", cols, x=x)
    _im2col(x, cols, *_pairs("im2col", kernel_size, stride, padding))


def col2im(cols, gx, kernel_size, stride, padding):
    """Overwrite gx (N, C, H, W) with the adjoint of im2col applied to cols; see _col2im."""
    cols = _arg_array("col2im", "cols", cols, 3, contiguous=False)
    gx = _arg_array("col2im", "gx", gx, 4, out=True)
    _same_dtype("col2im", cols=cols, gx=gx)
    _no_overlap("col2im", "gx", gx, cols=cols)
    _col2im(cols, gx, *_pairs("col2im", kernel_size, stride, padding))


def _check_shuffle(str op, src, dst, bias):
    src = _arg_array(op, "src", src, 3)
    dst = _arg_array(op, "dst", dst, 3, out=True)
    if bias is not None:
        bias = _arg_array(op, "bias", bias, 1)
    _same_dtype(op, src=src, dst=dst, bias=bias)
    _no_overlap(op, "dst", dst, src=src, bias=bias)
    return src, dst, bias


def swap01(src, dst, bias=None):
    """dst[b, a, :] = src[a, b, :] (+ bias[a]) for C-contiguous 3-D arrays; see _swap01."""
    src, dst, bias = _check_shuffle("swap01", src, dst, bias)
    _swap01(src, dst, bias)


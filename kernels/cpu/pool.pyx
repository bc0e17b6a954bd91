"""Direct max / average 2-D pooling, forward and backward, NCHW (Cython, OpenMP).

PyTorch semantics: floor output size (ceil_mode=False); max pooling pads with -inf, so a window
only ever looks at its real elements; average pooling divides by KH*KW (count_include_pad=True).
Every (n, c) plane is independent, so each kernel runs prange over the N*C planes: the
backward scatter-add stays inside one plane and never races. The wrappers check shapes and
parameters with the GIL held; minigrad/backend/cpu.py has already made the inputs
C-contiguous and allocated the outputs (which may be np.empty: every element is written).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange

from libc.stdint cimport int64_t
from libc.string cimport memset

from minigrad.backend.window import check_window

include "threads.pxi"
include "checks.pxi"

cdef extern from "pool_2x2.h" nogil:
    void mg_max_pool_2x2_f32(const float* x, float* y, int64_t* argmax, Py_ssize_t W,
                             Py_ssize_t OH, Py_ssize_t OW)
    void mg_max_pool_2x2_f64(const double* x, double* y, int64_t* argmax, Py_ssize_t W,
                             Py_ssize_t OH, Py_ssize_t OW)


cdef tuple _shape4(Py_ssize_t* shape):
    return (shape[0], shape[1], shape[2], shape[3])


def _check(str op, tuple x_shape, tuple y_shape, tuple kernel_size, tuple stride, tuple padding):
    # The window rules every layer shares (minigrad/backend/window.py): positive sizes,
    # padding at most half the kernel, every size and product within int64.
    expected = x_shape[:2] + check_window(op, x_shape, kernel_size, stride, padding, pool=True)
    if op.endswith("_forward") and (x_shape[2] == 0 or x_shape[3] == 0):
        # A window of an empty plane holds no element to seed its max (or mean) from.
        raise ValueError(f"{op}: input {x_shape} has an empty spatial dimension")
    if y_shape != expected:
        raise ValueError(f"{op}: output {y_shape} should be {expected} for input {x_shape}")


def _max_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                       int64_t[:, :, :, ::1] argmax, tuple kernel_size, tuple stride,
                       tuple padding):
    """y[n, c, oh, ow] = max of the window at (oh*sh - ph, ow*sw - pw) clipped to the input;
    argmax = its flat index h*W + w in the (n, c) plane. The first element of the clipped window
    seeds the maximum and only a strictly larger value (or the first NaN) replaces it, which
    gives the first maximum in row-major order and never points into the padding.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    _check("max_pool2d_forward", (N, C, H, W), _shape4(y.shape), kernel_size, stride, padding)
    if _shape4(argmax.shape) != _shape4(y.shape):
        raise ValueError(f"max_pool2d_forward: argmax {_shape4(argmax.shape)} and output "
                         f"{_shape4(y.shape)} differ")
    cdef Py_ssize_t KH = kernel_size[0], KW = kernel_size[1]
    cdef Py_ssize_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef Py_ssize_t plane, n, c
    # 2x2 windows, stride 2, no padding (most CNNs' pooling): pool_2x2.h, same results
    cdef bint two_by_two = KH == 2 and KW == 2 and sh == 2 and sw == 2 and ph == 0 and pw == 0
    cdef int threads = mg_threads_for(N * C * H * W)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for plane in prange(N * C, schedule="static"):
            n = plane // C
            c = plane % C
            if two_by_two and OH > 0 and OW > 0:
                if floating is float:
                    mg_max_pool_2x2_f32(&x[n, c, 0, 0], &y[n, c, 0, 0], &argmax[n, c, 0, 0], W,
                                        OH, OW)
                else:
                    mg_max_pool_2x2_f64(&x[n, c, 0, 0], &y[n, c, 0, 0], &argmax[n, c, 0, 0], W,
                                        OH, OW)
            else:
                _max_plane(&x[n, c, 0, 0], &y[n, c, 0, 0], &argmax[n, c, 0, 0], H, W, OH, OW,
                           KH, KW, sh, sw, ph, pw)


cdef inline void _max_plane(const floating* x, floating* y, int64_t* argmax, Py_ssize_t H,
                            Py_ssize_t W, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t KH,
                            Py_ssize_t KW, Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                            Py_ssize_t pw) noexcept nogil:
    """One (n, c) plane of max_pool2d_forward, one output row at a time.

    The row of maxima starts as each window's first real element; then, for every input row h
    and kernel column j (row-major window order), the inner loop runs across the output row
    and keeps the larger value. That inner loop has unit-stride stores and a select instead of
    an if, so the compiler can vectorise it and no branch depends on the (random) data.
    """
    cdef Py_ssize_t oh, ow, h, j, h0, h1, ow0, ow1, iw, k
    # Kernel columns that reach the input for some output column: j >= W + pw never does, nor
    # does j < pw - (OW-1)*sw. Looping over only these keeps a huge window from spinning.
    cdef Py_ssize_t j0 = max(pw - (OW - 1) * sw, 0), j1 = min(KW, W + pw)
    cdef const floating* row
    cdef floating* best
    cdef int64_t* best_index
    cdef floating v, b
    cdef int take
    for oh in range(OH):
        h0 = oh * sh - ph
        h1 = min(h0 + KH, H)
        h0 = max(h0, 0)
        best = y + oh * OW
        best_index = argmax + oh * OW
        for ow in range(OW):
            k = h0 * W + max(ow * sw - pw, 0)
            best[ow] = x[k]
            best_index[ow] = k
        for h in range(h0, h1):
            row = x + h * W
            for j in range(j0, j1):
                ow0 = _first_valid(j - pw, sw)
                ow1 = _end_valid(j - pw, sw, W, OW)
                for ow in range(ow0, ow1):
                    iw = ow * sw - pw + j
                    v = row[iw]
                    b = best[ow]
                    take = (v > b) | ((v != v) & (b == b))  # larger, or the first NaN
                    # Arithmetic select (Cython turns "a if c else b" into an if).
                    k = best_index[ow] + take * (h * W + iw - best_index[ow])
                    best_index[ow] = k
                    best[ow] = x[k]


cdef inline Py_ssize_t _first_valid(Py_ssize_t offset, Py_ssize_t step) noexcept nogil:
    """Smallest o >= 0 with o*step + offset >= 0."""
    return 0 if offset >= 0 else (-offset + step - 1) // step


cdef inline Py_ssize_t _end_valid(Py_ssize_t offset, Py_ssize_t step, Py_ssize_t size,
                                  Py_ssize_t n_out) noexcept nogil:
    """One past the largest o < n_out with o*step + offset < size."""
    if size - offset <= 0:
        return 0
    return min((size - offset + step - 1) // step, n_out)


def _max_pool2d_backward(const floating[:, :, :, ::1] gy, const int64_t[:, :, :, ::1] argmax,
                        floating[:, :, :, ::1] gx):
    """gx[n, c].flat[argmax[n, c, oh, ow]] += gy[n, c, oh, ow]; gx is zeroed first.

    Overlapping windows that share a maximum accumulate. An argmax outside [0, H*W) is skipped
    and reported as ValueError afterwards (it cannot come from max_pool2d_forward).
    """
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    cdef Py_ssize_t OH = gy.shape[2], OW = gy.shape[3]
    if (gy.shape[0], gy.shape[1]) != (N, C) or _shape4(argmax.shape) != _shape4(gy.shape):
        raise ValueError(f"max_pool2d_backward: grad_output {_shape4(gy.shape)}, argmax "
                         f"{_shape4(argmax.shape)} and input {(N, C, H, W)} do not match")
    cdef Py_ssize_t plane, n, c, oh, ow, k
    cdef Py_ssize_t HW = H * W
    cdef int bad = 0
    cdef floating* dst
    cdef int threads = mg_threads_for(N * C * H * W)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for plane in prange(N * C, schedule="static"):
            n = plane // C
            c = plane % C
            dst = &gx[n, c, 0, 0]
            memset(dst, 0, HW * sizeof(floating))
            for oh in range(OH):
                for ow in range(OW):
                    k = argmax[n, c, oh, ow]
                    if k < 0 or k >= HW:
                        bad += 1
                    else:
                        dst[k] += gy[n, c, oh, ow]
    if bad:
        raise ValueError(f"max_pool2d_backward: {bad} argmax entries lie outside the "
                         f"{H}x{W} input plane")


def _avg_pool2d_forward(const floating[:, :, :, ::1] x, floating[:, :, :, ::1] y,
                       tuple kernel_size, tuple stride, tuple padding):
    """y[n, c, oh, ow] = (sum of the window's real elements) / (KH*KW); padding counts as 0."""
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    cdef Py_ssize_t OH = y.shape[2], OW = y.shape[3]
    _check("avg_pool2d_forward", (N, C, H, W), _shape4(y.shape), kernel_size, stride, padding)
    cdef Py_ssize_t KH = kernel_size[0], KW = kernel_size[1]
    cdef Py_ssize_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef Py_ssize_t plane, n, c
    cdef int threads = mg_threads_for(N * C * H * W)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for plane in prange(N * C, schedule="static"):
            n = plane // C
            c = plane % C
            _avg_plane(&x[n, c, 0, 0], &y[n, c, 0, 0], H, W, OH, OW, KH, KW, sh, sw, ph, pw)


cdef inline void _avg_plane(const floating* x, floating* y, Py_ssize_t H, Py_ssize_t W,
                            Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t KH, Py_ssize_t KW,
                            Py_ssize_t sh, Py_ssize_t sw, Py_ssize_t ph,
                            Py_ssize_t pw) noexcept nogil:
    """One (n, c) plane of avg_pool2d_forward."""
    cdef Py_ssize_t oh, ow, h, w, h0, h1, w0, w1
    cdef const floating* row
    cdef floating total
    cdef floating scale = 1.0 / (<double>KH * <double>KW)  # no int overflow
    for oh in range(OH):
        h0 = oh * sh - ph
        h1 = min(h0 + KH, H)
        h0 = max(h0, 0)
        for ow in range(OW):
            w0 = ow * sw - pw
            w1 = min(w0 + KW, W)
            w0 = max(w0, 0)
            total = 0
            for h in range(h0, h1):
                row = x + h * W
                for w in range(w0, w1):
                    total = total + row[w]
            y[oh * OW + ow] = total * scale


def _avg_pool2d_backward(const floating[:, :, :, ::1] gy, floating[:, :, :, ::1] gx,
                        tuple kernel_size, tuple stride, tuple padding):
    """gx[n, c, h, w] = sum over the windows containing (h, w) of gy / (KH*KW); gx zeroed first."""
    cdef Py_ssize_t N = gx.shape[0], C = gx.shape[1], H = gx.shape[2], W = gx.shape[3]
    cdef Py_ssize_t OH = gy.shape[2], OW = gy.shape[3]
    _check("avg_pool2d_backward", (N, C, H, W), _shape4(gy.shape), kernel_size, stride,
           padding)
    cdef Py_ssize_t KH = kernel_size[0], KW = kernel_size[1]
    cdef Py_ssize_t sh = stride[0], sw = stride[1], ph = padding[0], pw = padding[1]
    cdef Py_ssize_t plane, n, c, oh, ow, h, w, h0, h1, w0, w1
    cdef floating share
    cdef floating scale = 1.0 / (<double>KH * <double>KW)  # no int overflow
    cdef int threads = mg_threads_for(N * C * H * W)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for plane in prange(N * C, schedule="static"):
            n = plane // C
            c = plane % C
            memset(&gx[n, c, 0, 0], 0, H * W * sizeof(floating))
            for oh in range(OH):
                h0 = oh * sh - ph
                h1 = min(h0 + KH, H)
                h0 = max(h0, 0)
                for ow in range(OW):
                    w0 = ow * sw - pw
                    w1 = min(w0 + KW, W)
                    w0 = max(w0, 0)
                    share = gy[n, c, oh, ow] * scale
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            gx[n, c, h, w] += share


# ---------------------------------------------------------------- checked entry points
# The public functions: each checks its arguments (checks.pxi, then the shape / window checks
# of its typed core) with the GIL held, then runs the core above. Outputs are written in full.


def max_pool2d_forward(x, y, argmax, kernel_size, stride, padding):
    """Max pooling of x (N, C, H, W) into y and argmax (int64), both (N, C, OH, OW), all
    C-contiguous; see _max_pool2d_forward."""
    op = "max_pool2d_forward"
    x = _arg_array(op, "x", x, 4)
    y = _arg_array(op, "y", y, 4, out=True)
    argmax = _arg_array(op, "argmax", argmax, 4, dtype=_INT64, out=True)
    _same_dtype(op, x=x, y=y)
    _no_overlap(op, "y", y, x=x, argmax=argmax)
    _no_overlap(op, "argmax", argmax, x=x)
    _max_pool2d_forward(x, y, argmax, *_pairs(op, kernel_size, stride, padding))


def max_pool2d_backward(gy, argmax, gx):
    """Overwrite gx (N, C, H, W) with gy (N, C, OH, OW) added at the argmax positions; see
    _max_pool2d_backward."""
    op = "max_pool2d_backward"
    gy = _arg_array(op, "gy", gy, 4)
    argmax = _arg_array(op, "argmax", argmax, 4, dtype=_INT64)
    gx = _arg_array(op, "gx", gx, 4, out=True)
    _same_dtype(op, gy=gy, gx=gx)
    _no_overlap(op, "gx", gx, gy=gy, argmax=argmax)
    _max_pool2d_backward(gy, argmax, gx)


def avg_pool2d_forward(x, y, kernel_size, stride, padding):
    """Average pooling of x (N, C, H, W) into y (N, C, OH, OW), both C-contiguous; see
    _avg_pool2d_forward."""
    op = "avg_pool2d_forward"
    x = _arg_array(op, "x", x, 4)
    y = _arg_array(op, "y", y, 4, out=True)
    _same_dtype(op, x=x, y=y)
    _no_overlap(op, "y", y, x=x)
    _avg_pool2d_forward(x, y, *_pairs(op, kernel_size, stride, padding))


def avg_pool2d_backward(gy, gx, kernel_size, stride, padding):
    """Overwrite gx (N, C, H, W) with the gradient of average pooling for gy (N, C, OH, OW);
    see _avg_pool2d_backward."""
    op = "avg_pool2d_backward"
    gy = _arg_array(op, "gy", gy, 4)
    gx = _arg_array(op, "gx", gx, 4, out=True)
    _same_dtype(op, gy=gy, gx=gx)
    _no_overlap(op, "gx", gx, gy=gy)
    _avg_pool2d_backward(gy, gx, *_pairs(op, kernel_size, stride, padding))

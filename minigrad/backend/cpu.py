"""CPU backend: the kernel table (backend/interface.py) of the compiled Cython kernels where they
were built, numpy otherwise.

Each op is served by minigrad.kernels.cpu.<module> (gemm, conv, pool) when that extension
imports, else by backend/reference.py; the table (KERNELS, built once at import) records which,
and kernel_sources() reports it. MINIGRAD_DISABLE_EXT=1 (read
at import), or an install made with MINIGRAD_NO_EXT=1, forces the reference everywhere without
a warning; a compiled module that fails to load otherwise warns once, with BUILD_ADVICE.

The convolutions are implicit GEMMs (gemm.conv2d_forward_implicit, conv2d_grad_input_implicit,
conv2d_grad_weight_implicit): the GEMM packs its panels straight from the image and gy, and
writes y in place or adds gradient tiles into gx, with no column matrix in between. Layers whose
per-image product is small (few input channels, _CONV_PER_IMAGE_WORK) take the gradients as
the reference does, im2col/col2im in Cython around a batched GEMM with one image per thread
that reads and writes the NCHW arrays in place.
"""

import importlib
import os
import warnings

import numpy as np

from minigrad.backend import interface, reference

# Which compiled module serves each hot op (the ops of interface.HOT_KERNELS).
OPS = {
    "matmul": "gemm",
    "conv2d_forward": "gemm",  # implicit GEMM (gemm.conv2d_forward_implicit)
    "conv2d_grad_input": "conv",
    "conv2d_grad_weight": "conv",
    "max_pool2d_forward": "pool",
    "max_pool2d_backward": "pool",
    "avg_pool2d_forward": "pool",
    "avg_pool2d_backward": "pool",
}
# ... and each helper kernel (interface.HELPER_KERNELS) that has a compiled version.
_HELPER_OPS = {"relu": "elementwise", "relu_backward": "elementwise"}
# What each compiled module must provide to be used.
_REQUIRED = {
    "gemm": ("matmul", "conv2d_forward_implicit", "conv2d_grad_weight_implicit",
             "conv2d_grad_input_implicit"),
    "conv": ("im2col", "col2im", "swap01"),
    "pool": ("max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
             "avg_pool2d_backward"),
    "elementwise": ("relu_forward", "relu_backward"),
}


def _extensions_disabled():
    return os.environ.get("MINIGRAD_DISABLE_EXT", "").strip().lower() in ("1", "true", "yes", "on")


def _built_without_extensions():
    """Whether this install was made with MINIGRAD_NO_EXT=1 (setup.py records it in the
    generated minigrad/kernels/cpu/build_info.py; absent: not known, treated as no)."""
    try:
        from minigrad.kernels.cpu import build_info
    except ImportError:
        return False
    return bool(getattr(build_info, "NO_EXT", False))


# Shown when compiled kernels were expected but did not load (a failed build, or minigrad
# imported from a checkout that was never built). Each command rebuilds them (tested in CI).
BUILD_ADVICE = (
    "To build them, install a C compiler (e.g. gcc) and reinstall minigrad from its source "
    "folder: `pip install -e .` in a checkout you work in, else "
    "`pip install --force-reinstall --no-deps .` (with MINIGRAD_REQUIRE_EXT=1 a failing build "
    "stops with its compiler error). To use the numpy reference kernels on purpose, install "
    "with MINIGRAD_NO_EXT=1 or set MINIGRAD_DISABLE_EXT=1; then there is no warning."
)


def _load(name):
    """The compiled module minigrad.kernels.cpu.<name>, or None if it is absent or incomplete."""
    try:
        module = importlib.import_module(f"minigrad.kernels.cpu.{name}")
    except ImportError:
        return None
    return module if all(hasattr(module, f) for f in _REQUIRED[name]) else None


# Why the reference serves everywhere, if it does on purpose: None, "MINIGRAD_DISABLE_EXT=1"
# (at run time) or "MINIGRAD_NO_EXT=1" (at install time).
DISABLED_BY = ("MINIGRAD_DISABLE_EXT=1" if _extensions_disabled()
               else "MINIGRAD_NO_EXT=1" if _built_without_extensions() else None)
DISABLED = DISABLED_BY is not None
_modules = {} if DISABLED else {name: _load(name) for name in _REQUIRED}
_gemm = _modules.get("gemm")
_conv = _modules.get("conv")
_pool = _modules.get("pool")
_elementwise = _modules.get("elementwise")

_missing = sorted(name for name in _REQUIRED if _modules.get(name) is None)
if _missing and not DISABLED:
    # Module-level code runs once per process, so this warns once.
    _ops = ", ".join(op for op, module in {**OPS, **_HELPER_OPS}.items() if module in _missing)
    _names = ", ".join("minigrad.kernels.cpu." + m for m in _missing)
    warnings.warn(
        f"minigrad: compiled CPU kernels {_names} "
        f"not available; falling back to the numpy reference kernels for {_ops}. "
        + BUILD_ADVICE,
        RuntimeWarning,
        stacklevel=2,
    )


def kernel_sources() -> dict:
    """Op name -> "cython" or "reference": which implementation serves each op."""
    return KERNELS.kernel_sources()


_GEMM_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(a, b, *, trans_a=False, trans_b=False):
    """op(a) @ op(b) with numpy batch broadcasting; see reference.matmul."""
    # Fast path for the common case (two 2-D float32/float64 ndarrays of one dtype whose inner
    # dimensions agree): nothing check_matmul_args could refuse, and its ~3 us would double the
    # cost of a Linear layer's small GEMMs.
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and b.ndim == 2
            and a.dtype is b.dtype and a.dtype in _GEMM_DTYPES
            and a.shape[0 if trans_a else 1] == b.shape[1 if trans_b else 0]):
        return _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b)
    reference.check_matmul_args(a, b, trans_a, trans_b)
    return _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b)


def _gemm_2d(a, b, *, trans_a=False, trans_b=False):
    """GEMM for the conv internals, 2-D or batched (arguments already known to be valid)."""
    if _gemm is None:
        a = a.swapaxes(-1, -2) if trans_a else a
        return np.matmul(a, b.swapaxes(-1, -2) if trans_b else b)
    return _gemm.matmul(a, b, trans_a=trans_a, trans_b=trans_b)


def _contiguous(a):
    """a itself when already C-contiguous (the common case), else a C-contiguous copy."""
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _conv_cols(x, kernel_size, stride, padding, out_hw, extra_rows=0):
    """im2col of the whole batch as one (C*KH*KW, N*OH*OW) matrix.

    Column n*L + l holds image n's window at output pixel l (L = OH*OW). Putting the images side
    by side makes each conv GEMM a single large product (O x K times K x N*L) instead of N small
    ones, which keeps the GEMM efficient for the small images of a typical CNN. extra_rows > 0
    leaves that many rows at the bottom for the caller to fill (left uninitialised).
    """
    N, C = x.shape[:2]
    K = C * kernel_size[0] * kernel_size[1]
    L = out_hw[0] * out_hw[1]
    cols = np.empty((K + extra_rows, N, L), dtype=x.dtype)
    _conv.im2col(x, cols[:K].swapaxes(0, 1), tuple(kernel_size), tuple(stride), tuple(padding))
    return cols.reshape(K + extra_rows, N * L)


# Per-image conv products below this many multiply-adds run as a batched GEMM, one image per
# thread (the GEMM driver's own serial threshold, MG_PAR_MIN_WORK in gemm_driver.h).
_CONV_PER_IMAGE_WORK = 1 << 21

# Without the compiled GEMM module (no implicit GEMMs), grad_input runs over chunks of images
# whose gradient columns (what col2im reads) are about this many bytes: each chunk's columns
# are written and read again while they are still in the caches, where one (K, N*L) matrix of
# the whole batch (17.8 MB for conv2 32->64 13x13 at N=128) makes a round trip through memory.
# Measured when every conv ran this way (2 threads): forward 4.4 -> 3.1-3.4 ms, grad_input
# 4.7 -> 3.5 ms.
_CONV_CHUNK_BYTES = 2 << 20


def _chunk_images(N, K, L, itemsize):
    """Images per chunk: as many as fit _CONV_CHUNK_BYTES of (K, L) columns, at least 1."""
    return max(1, min(N, _CONV_CHUNK_BYTES // max(1, K * L * itemsize)))


def _chunks(N, nb):
    """(start, count) of consecutive chunks of at most nb images, as even as possible (32
    images by 15 are 11 + 11 + 10, not 15 + 15 + 2: a tiny last chunk runs a poor GEMM)."""
    if N <= 0:
        return []  # an empty batch: nothing to loop over
    n_chunks = -(-N // nb)
    base, extra = divmod(N, n_chunks)
    sizes = [base + (i < extra) for i in range(n_chunks)]
    return [(sum(sizes[:i]), m) for i, m in enumerate(sizes)]


def _images_last(gy):
    """(N, O, OH, OW) -> (O, N*OH*OW): gy in the column order of _conv_cols."""
    N, O, OH, OW = gy.shape
    gy_t = np.empty((O, N, OH * OW), dtype=gy.dtype)
    _conv.swap01(gy.reshape(N, O, OH * OW), gy_t)
    return gy_t.reshape(O, N * OH * OW)


def _padded(x, padding):
    """x with (ph, pw) zeros around each (H, W) plane, or x itself when there is no padding."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    xp = np.zeros((N, C, H + 2 * ph, W + 2 * pw), dtype=x.dtype)
    xp[:, :, ph:ph + H, pw:pw + W] = x
    return xp


def conv2d_forward(x, w, b, stride, padding, *, keep_cols=False):
    """y = x * w (+ b); see reference.conv2d_forward. With keep_cols, (y, None): the implicit
    GEMM builds no column matrix, so conv2d_grad_weight(cols=None) makes its own."""
    OH, OW = reference.check_conv_forward_args(x, w, b, stride, padding)
    x, w = _contiguous(x), _contiguous(w)
    N, O = x.shape[0], w.shape[0]
    K = w[0].size
    # Implicit GEMM (gemm.conv2d_forward_implicit): the GEMM packs its panels straight from
    # the (padded) image and writes y in place, bias folded in as an extra column of the
    # weights. No im2col matrix (17.8 MB for conv2 32->64 13x13 at N=128) and no layout pass
    # over y: both took as long as the GEMM itself. Padding costs one copy of x, 1/(KH*KW) of
    # what the column matrix would.
    wk = w.reshape(O, K)
    if b is not None:
        wk = np.concatenate([wk, b.reshape(O, 1).astype(w.dtype, copy=False)], axis=1)
    y = np.empty((N, O, OH, OW), dtype=x.dtype)
    _gemm.conv2d_forward_implicit(_padded(x, padding), wk, y, tuple(w.shape[2:]), tuple(stride),
                                  b is not None)
    return (y, None) if keep_cols else y


def conv2d_grad_input(gy, w, x_shape, stride, padding):
    """Gradient of conv2d_forward with respect to x; see reference.conv2d_grad_input."""
    reference.check_conv_grad_input_args(gy, w, x_shape, stride, padding)
    gy, w = _contiguous(gy), _contiguous(w)
    N, O, OH, OW = gy.shape
    K, L = w.shape[1] * w.shape[2] * w.shape[3], OH * OW
    if O * L * K < _CONV_PER_IMAGE_WORK:
        # Small per-image products (as in conv2d_forward): gcols[n] = W^T @ gy[n], one image
        # per thread, straight from gy and already in col2im's (N, K, L) layout.
        gcols = _gemm_2d(w.reshape(O, K), gy.reshape(N, O, L), trans_a=True)  # (N, K, L)
    elif _gemm is not None:
        # Implicit GEMM (gemm.conv2d_grad_input_implicit): each tile of W^T @ gy is added into
        # the (padded) gradient straight from the micro-kernel, whole images per thread: no
        # gradient-column matrix, no copy of gy to (O, N*L), no col2im pass. Measured for
        # conv2 32->64 13x13 (2 threads, Zen 3, interleaved): N=128 9.5-10.4 -> 6.9-8.1 ms,
        # N=32 2.1-2.5 -> 1.6-1.7 ms against the chunks below.
        ph, pw = padding
        N, C, H, W = x_shape
        gxp = np.empty((N, C, H + 2 * ph, W + 2 * pw), dtype=gy.dtype)
        _gemm.conv2d_grad_input_implicit(gy, w, gxp, tuple(stride))
        if ph == 0 and pw == 0:
            return gxp
        return np.ascontiguousarray(gxp[:, :, ph:ph + H, pw:pw + W])
    else:
        # (No compiled GEMM module.) One GEMM per chunk of images (_CONV_CHUNK_BYTES of
        # gradient columns), each chunk's columns summed into gx by col2im while they are
        # still in the caches.
        gx = np.empty(tuple(x_shape), dtype=gy.dtype)
        w2 = w.reshape(O, K)
        for n0, m in _chunks(N, _chunk_images(N, K, L, gy.itemsize)):
            gcols = _gemm_2d(w2, _images_last(gy[n0:n0 + m]), trans_a=True)  # (K, m*L)
            _conv.col2im(gcols.reshape(K, m, L).swapaxes(0, 1), gx[n0:n0 + m],
                         tuple(w.shape[2:]), tuple(stride), tuple(padding))
        return gx
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _conv.col2im(gcols, gx, tuple(w.shape[2:]), tuple(stride), tuple(padding))
    return gx


def conv2d_grad_weight(x, gy, w_shape, stride, padding, *, cols=None):
    """Gradient of conv2d_forward with respect to w; see reference.conv2d_grad_weight.
    cols: what conv2d_forward(x, ..., keep_cols=True) returned, or None to run im2col here."""
    reference.check_conv_grad_weight_args(x, gy, w_shape, stride, padding)
    x, gy = _contiguous(x), _contiguous(gy)
    N, O, OH, OW = gy.shape
    K, L = int(np.prod(w_shape[1:])), OH * OW
    if cols is None and _gemm is not None and O * L * K >= _CONV_PER_IMAGE_WORK:
        # Implicit GEMM (gemm.conv2d_grad_weight_implicit): gw.T = X @ G with both operands
        # packed straight from the (padded) x and from gy, the pixels split between the
        # threads. Measured for conv2 32->64 13x13 at N=128 (2 threads, Zen 3): 12.2 -> 5.8 ms
        # against chunked im2col + a copy of gy to (O, N*L) + GEMM. Below the per-image
        # threshold (few input channels, K = 9 for the first layer) the batched per-image
        # GEMM below stays faster.
        gw_t = np.empty((K, O), dtype=x.dtype)
        _gemm.conv2d_grad_weight_implicit(_padded(x, padding), gy, gw_t, tuple(w_shape[2:]),
                                          tuple(stride))
        return np.ascontiguousarray(gw_t.T).reshape(tuple(w_shape))
    if cols is None:
        cols = _conv_cols(x, w_shape[2:], stride, padding, gy.shape[2:])  # (K, N*L)
    else:
        reference.check_kept_cols("conv2d_grad_weight", cols, (K, N * OH * OW), x)
        cols = _contiguous(cols)
    if O * L * K < _CONV_PER_IMAGE_WORK and N > 0:
        # Small per-image products (as in conv2d_forward): gw = sum_n gy[n] @ cols_n^T, one
        # image per thread, reading gy where it lies instead of copying it to _images_last's
        # layout (a pass over all of gy, as long as the GEMM itself when K is this small).
        parts = _gemm_2d(gy.reshape(N, O, L), cols.reshape(K, N, L).swapaxes(0, 1),
                         trans_b=True)  # (N, O, K)
        return parts.sum(axis=0).reshape(tuple(w_shape))
    gw_t = _gemm_2d(cols, _images_last(gy), trans_b=True)  # (K, O)
    return np.ascontiguousarray(gw_t.T).reshape(tuple(w_shape))


def max_pool2d_forward(x, kernel_size, stride, padding):
    """(y, argmax) of max pooling; see reference.max_pool2d_forward."""
    OH, OW = reference.check_pool_forward_args("max_pool2d_forward", x, kernel_size, stride,
                                               padding)
    x = _contiguous(x)
    y = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
    argmax = np.empty(y.shape, dtype=np.int64)
    _pool.max_pool2d_forward(x, y, argmax, tuple(kernel_size), tuple(stride), tuple(padding))
    return y, argmax


def max_pool2d_backward(gy, argmax, x_shape, kernel_size, stride, padding):
    """Scatter-add of gy to the argmax positions; see reference.max_pool2d_backward."""
    reference.check_max_pool_backward_args(gy, argmax, x_shape, kernel_size, stride, padding)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _pool.max_pool2d_backward(_contiguous(gy), _contiguous(argmax), gx)
    return gx


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """Average pooling; see reference.avg_pool2d_forward."""
    OH, OW = reference.check_pool_forward_args("avg_pool2d_forward", x, kernel_size, stride,
                                               padding)
    x = _contiguous(x)
    y = np.empty(x.shape[:2] + (OH, OW), dtype=x.dtype)
    _pool.avg_pool2d_forward(x, y, tuple(kernel_size), tuple(stride), tuple(padding))
    return y


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding):
    """Gradient of average pooling; see reference.avg_pool2d_backward."""
    reference.check_avg_pool_backward_args(gy, x_shape, kernel_size, stride, padding)
    gx = np.empty(tuple(x_shape), dtype=gy.dtype)
    _pool.avg_pool2d_backward(_contiguous(gy), gx, tuple(kernel_size), tuple(stride),
                              tuple(padding))
    return gx


def _flat_float(a):
    """a as a flat view when the elementwise kernels can take it (a C-contiguous float32/64
    ndarray), else None."""
    if type(a) is np.ndarray and a.dtype in _GEMM_DTYPES and a.flags.c_contiguous:
        return a.reshape(-1)
    return None


def relu(x):
    """max(x, 0); see reference.relu. One threaded pass for contiguous float arrays."""
    flat = _flat_float(x)
    if flat is None:
        return reference.relu(x)
    y = np.empty_like(x)
    _elementwise.relu_forward(flat, y.reshape(-1))
    return y


def relu_backward(y, gy):
    """gy where y > 0; see reference.relu_backward. One threaded pass instead of three."""
    flat_y, flat_g = _flat_float(y), _flat_float(gy)
    if flat_y is None or flat_g is None or y.dtype != gy.dtype or y.shape != gy.shape:
        return reference.relu_backward(y, gy)
    gx = np.empty_like(gy)
    _elementwise.relu_backward(flat_y, flat_g, gx.reshape(-1))
    return gx


def _implemented():
    """The kernels this backend serves itself: those whose compiled module loaded."""
    compiled = {
        "matmul": matmul,
        "conv2d_forward": conv2d_forward,
        "conv2d_grad_input": conv2d_grad_input,
        "conv2d_grad_weight": conv2d_grad_weight,
        "max_pool2d_forward": max_pool2d_forward,
        "max_pool2d_backward": max_pool2d_backward,
        "avg_pool2d_forward": avg_pool2d_forward,
        "avg_pool2d_backward": avg_pool2d_backward,
        "relu": relu,
        "relu_backward": relu_backward,
    }
    served_by = {**OPS, **_HELPER_OPS}
    return {op: fn for op, fn in compiled.items() if _modules.get(served_by[op]) is not None}


# The table, built once: the Cython kernel where its module loaded, else the numpy reference.
# The module-level names are rebound to the table's entries, so cpu.matmul etc. are exactly what
# the table serves (the function above when compiled, reference.matmul otherwise).
KERNELS = interface.build_table("cpu", _implemented(), source="cython")
matmul = KERNELS.matmul
conv2d_forward = KERNELS.conv2d_forward
conv2d_grad_input = KERNELS.conv2d_grad_input
conv2d_grad_weight = KERNELS.conv2d_grad_weight
max_pool2d_forward = KERNELS.max_pool2d_forward
max_pool2d_backward = KERNELS.max_pool2d_backward
avg_pool2d_forward = KERNELS.avg_pool2d_forward
avg_pool2d_backward = KERNELS.avg_pool2d_backward
scatter_add = KERNELS.scatter_add
erf = KERNELS.erf
relu = KERNELS.relu
relu_backward = KERNELS.relu_backward

"""CUDA kernel interface: minigrad's own CUDA kernels (kernels/cuda/*.cu) behind the same
functions as backend/reference.py and backend/cpu.py.

Every launcher checks its arguments with the reference's checks (dtype, shape, parameters),
checks that all arrays are on one device, makes the inputs C-contiguous (a raw kernel ignores
strides), computes grid, block and shared memory here in Python, wraps every scalar in the
numpy type of its C parameter (np.int64 for `long long`; CuPy passes a Python int as long long
and a Python float as double whatever the parameter), never launches an empty grid, and then
hands the launch to a runner (backend/cuda_runners.py):
  - cupy.ndarray arguments           -> RawModuleRunner: cupy.RawModule, compiled once per
                                        process and device, launched on the arrays' cuda:N;
  - numpy arrays, or arrays exposing -> EmulatedRunner: the same .cu files built with g++
    their numpy buffer as `_host`       against kernels/cuda/emulation.h, called the CuPy way.
The launch geometry is computed by the same code for both, so the emulation tests exercise it.

Protocol with the fake CUDA device (MINIGRAD_FAKE_CUDA=1, also /work/notes/cuda-protocol.md):
  - a device array has shape, dtype, ndim, size, flags.c_contiguous, reshape(), item() (of a
    one-element array) and device.id (int); the fake one also has `_host`, the numpy array
    holding its data (same shape and strides, shared memory: kernels write into it);
  - the array module of a non-numpy array is minigrad.backend.device._cupy() (the fake module
    under MINIGRAD_FAKE_CUDA=1); it needs empty, zeros, ascontiguousarray and broadcast_to,
    arrays need sum(axis=0); `xp.cuda.Device(id)` is used as a context when present;
  - results are arrays of the inputs' kind (numpy -> numpy, fake -> fake, cupy -> cupy).
"""

import contextlib
import functools

import numpy as np

from . import cuda_runners, cuda_sources, reference

OPS = ("matmul", "conv2d_forward", "conv2d_grad_input", "conv2d_grad_weight",
       "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward")


def kernel_sources() -> dict:
    """Op name -> "cuda": every op is served by a kernel of kernels/cuda/."""
    return {op: "cuda" for op in OPS}


# Runners and devices


@functools.lru_cache(maxsize=None)
def _raw_runner():
    return cuda_runners.RawModuleRunner()


@functools.lru_cache(maxsize=None)
def emulated_runner():
    return cuda_runners.EmulatedRunner()


def _device_id(a):
    """The CUDA device index of a device array; None for a plain numpy array."""
    if isinstance(a, np.ndarray):
        return None
    return int(a.device.id)


def _common_device(op, *arrays):
    ids = {_device_id(a) for a in arrays if a is not None}
    if len(ids) > 1:
        names = " and ".join(sorted("host (numpy)" if i is None else f"cuda:{i}" for i in ids))
        raise RuntimeError(f"{op}: arrays are on different devices ({names})")
    return ids.pop()


def _array_module(device_id):
    if device_id is None:
        return np
    from .device import _cupy

    return _cupy()


def _device_context(xp, device_id):
    cuda = getattr(xp, "cuda", None)
    if device_id is None or cuda is None or not hasattr(cuda, "Device"):
        return contextlib.nullcontext()
    return cuda.Device(device_id)


class _Call:
    """One kernel interface call: its device, array module and runner."""

    def __init__(self, op, *arrays):
        self.op = op
        self.device_id = _common_device(op, *arrays)
        self.xp = _array_module(self.device_id)
        emulated = all(cuda_runners.is_emulated_array(a) for a in arrays if a is not None)
        self.runner = emulated_runner() if emulated else _raw_runner()
        self.dtype = np.dtype(arrays[0].dtype)

    def __enter__(self):
        self._context = _device_context(self.xp, self.device_id)
        self._context.__enter__()
        return self

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)

    def contiguous(self, a):
        return a if a.flags.c_contiguous else self.xp.ascontiguousarray(a)

    def empty(self, shape, dtype=None):
        return self.xp.empty(tuple(int(d) for d in shape), dtype=dtype or self.dtype)

    def launch(self, module, template, grid, block, args, fills=()):
        """Launch kernel `template` of `module` for this call's dtype. Refuses an empty grid
        (callers return early for empty outputs)."""
        if min(grid) < 1 or min(block) < 1:
            raise RuntimeError(f"{self.op}: empty launch grid {grid} block {block}")
        name = cuda_sources.kernel_name(template, self.dtype)
        self.runner.launch(module, name, grid, block, args, device_id=self.device_id,
                           fills=fills)


def _i64(*values):
    return tuple(np.int64(v) for v in values)


# Launch geometry shared by the elementwise-style kernels (one thread per element, grid-stride).
BLOCK_1D = 256
MAX_BLOCKS_1D = 1 << 20  # the grid-stride loop covers the rest


def grid_1d(n):
    return (max(1, min(-(-n // BLOCK_1D), MAX_BLOCKS_1D)),)


# GEMM

MAX_GRID_YZ = 65535
# Blocks that keep a large GPU busy (an H100 has 132 SMs); below this the smaller tile is used,
# and the weight gradient splits its sum over images into this many blocks at most.
TARGET_BLOCKS = 264


def pick_gemm_config(M, N, batch, dtype):
    """The tile configuration for an M x N output of dtype, `batch` times."""
    BM, BN = cuda_sources.gemm_tile("large", dtype)[:2]
    large_blocks = -(-M // BM) * -(-N // BN) * batch
    return "large" if large_blocks >= TARGET_BLOCKS else "small"


def gemm_launch(call, A, B, C, *, M, N, K, lda, ldb, ldc, trans_a=False, trans_b=False,
                batch=(1, 1), a_strides=(0, 0), b_strides=(0, 0), sc=0, bias=None,
                reduce_splits=0, config=None):
    """C[z] = op(A[z]) @ op(B[z]) (+ bias[m]) for z over batch = (outer, inner), A[z] at
    A + outer_index * a_strides[0] + inner_index * a_strides[1] (elements; 0 = broadcast).
    reduce_splits > 0 instead sums all batches into reduce_splits partial tiles, the s-th at
    C + s * sc. All sizes in elements; M, N >= 1 (the caller skips empty outputs)."""
    nbatch = batch[0] * batch[1]
    config = config or pick_gemm_config(M, N, reduce_splits or nbatch, call.dtype)
    BM, BN, BK, TM, TN = cuda_sources.gemm_tile(config, call.dtype)
    tiles_m, tiles_n = -(-M // BM), -(-N // BN)
    grid_z = reduce_splits if reduce_splits else min(nbatch, MAX_GRID_YZ)
    grid = (min(tiles_n, 2**31 - 1), min(tiles_m, MAX_GRID_YZ), grid_z)
    block = ((BM // TM) * (BN // TN),)
    args = (A, B, C, C if bias is None else bias,
            *_i64(M, N, K, lda, ldb, ldc, nbatch, batch[1], *a_strides, *b_strides, sc,
                  trans_a, trans_b, bias is not None, reduce_splits > 0))
    call.launch("gemm", cuda_sources.gemm_template(config), grid, block, args, fills=(2,))


def _batch_strides(shape, batch_shape):
    """Element strides of a C-contiguous (..., R, C) array's batch axes, broadcast to
    batch_shape (0 on broadcast axes)."""
    matrix = int(np.prod(shape[-2:]))
    strides, step = [], matrix
    for dim in reversed(shape[:-2]):
        strides.append(step if dim != 1 else 0)
        step *= dim
    strides.reverse()
    return [0] * (len(batch_shape) - len(strides)) + strides


def _collapse_batch(batch_shape, a_strides, b_strides):
    """Merge batch axes that both operands step through as one: [(size, a_stride, b_stride)]."""
    axes = []
    for size, sa, sb in zip(batch_shape, a_strides, b_strides):
        if size == 1:
            continue
        if axes and axes[-1][1] == sa * size and axes[-1][2] == sb * size:
            axes[-1] = (axes[-1][0] * size, sa, sb)
        else:
            axes.append((size, sa, sb))
    return axes


def matmul(a, b, *, trans_a=False, trans_b=False):
    """op(a) @ op(b) with numpy's batch broadcasting; see reference.matmul."""
    reference.check_matmul_args(a, b, trans_a, trans_b)
    with _Call("matmul", a, b) as call:
        a_vector, b_vector = a.ndim == 1, b.ndim == 1
        a = call.contiguous(a.reshape(1, -1) if a_vector else a)
        b = call.contiguous(b.reshape(-1, 1) if b_vector else b)
        M, K = (a.shape[-1], a.shape[-2]) if trans_a else a.shape[-2:]
        N = b.shape[-2] if trans_b else b.shape[-1]
        batch_shape = np.broadcast_shapes(tuple(a.shape[:-2]), tuple(b.shape[:-2]))
        out = call.empty(batch_shape + (M, N))
        if out.size:
            axes = _collapse_batch(batch_shape, _batch_strides(a.shape, batch_shape),
                                   _batch_strides(b.shape, batch_shape))
            if len(axes) > 2:  # a broadcast pattern two strides can't describe: materialise
                a = call.xp.ascontiguousarray(call.xp.broadcast_to(a, batch_shape + a.shape[-2:]))
                b = call.xp.ascontiguousarray(call.xp.broadcast_to(b, batch_shape + b.shape[-2:]))
                axes = [(int(np.prod(batch_shape)), M * K, K * N)]
            axes = [(1, 0, 0)] * (2 - len(axes)) + axes
            gemm_launch(call, a, b, out, M=M, N=N, K=K, lda=a.shape[-1], ldb=b.shape[-1],
                        ldc=N, trans_a=trans_a, trans_b=trans_b,
                        batch=(axes[0][0], axes[1][0]), a_strides=(axes[0][1], axes[1][1]),
                        b_strides=(axes[0][2], axes[1][2]), sc=M * N)
        if a_vector:
            out = out.reshape(batch_shape + (N,))
        if b_vector:
            out = out.reshape(out.shape[:-1])
        return out


# Convolution: im2col (one thread per column entry) + our GEMM, bias fused into the GEMM's
# epilogue; col2im gathers (one thread per input element, no atomics, deterministic).


def _is_pointwise(kernel_size, stride, padding):
    """A 1x1 kernel with stride 1 and no padding: x (N, C, H*W) is already its own cols."""
    return tuple(kernel_size) == (1, 1) and tuple(stride) == (1, 1) and tuple(padding) == (0, 0)


def _window_args(x_shape, kernel_size, stride, padding, out_hw):
    N, C, H, W = x_shape
    return _i64(N, C, H, W, *kernel_size, *stride, *padding, *out_hw)


def _im2col(call, x, kernel_size, stride, padding, out_hw):
    """cols (N, C*KH*KW, OH*OW) of a contiguous x (x itself for a pointwise kernel)."""
    if _is_pointwise(kernel_size, stride, padding):
        return x
    N, C = x.shape[:2]
    cols = call.empty((N, C * kernel_size[0] * kernel_size[1], out_hw[0] * out_hw[1]))
    if cols.size:
        call.launch("conv", "mg_im2col<{T}>", grid_1d(cols.size), (BLOCK_1D,),
                    (x, cols, *_window_args(x.shape, kernel_size, stride, padding, out_hw)),
                    fills=(1,))
    return cols


def conv2d_forward(x, w, b, stride, padding, *, keep_cols=False):
    """y = x * w (+ b); see reference.conv2d_forward. keep_cols: (y, cols) with cols the
    (N, K, L) im2col columns (None when y is empty), for conv2d_grad_weight(cols=...)."""
    OH, OW = reference.check_conv_forward_args(x, w, b, stride, padding)
    with _Call("conv2d_forward", x, w, b) as call:
        x, w = call.contiguous(x), call.contiguous(w)
        b = None if b is None else call.contiguous(b)
        N, O = x.shape[0], w.shape[0]
        K, L = w[0].size, OH * OW
        y = call.empty((N, O, OH, OW))
        cols = None
        if y.size:
            cols = _im2col(call, x, w.shape[2:], stride, padding, (OH, OW))
            # y[n] (O x L) = w (O x K) @ cols[n] (K x L) + b: one batched GEMM, w broadcast.
            gemm_launch(call, w, cols, y, M=O, N=L, K=K, lda=K, ldb=L, ldc=L, batch=(1, N),
                        b_strides=(0, K * L), sc=O * L, bias=b)
        if keep_cols:
            return y, None if cols is None else cols.reshape(N, K, L)
        return y


def conv2d_grad_input(gy, w, x_shape, stride, padding):
    """Gradient of conv2d_forward with respect to x; see reference.conv2d_grad_input."""
    reference.check_conv_grad_input_args(gy, w, x_shape, stride, padding)
    with _Call("conv2d_grad_input", gy, w) as call:
        gy, w = call.contiguous(gy), call.contiguous(w)
        N, O, OH, OW = gy.shape
        K, L = w[0].size, OH * OW
        gx = call.empty(x_shape)
        if gx.size == 0:
            return gx
        pointwise = _is_pointwise(w.shape[2:], stride, padding)
        gcols = gx if pointwise else call.empty((N, K, L))
        # gcols[n] (K x L) = w^T (K x O) @ gy[n] (O x L)
        gemm_launch(call, w, gy, gcols, M=K, N=L, K=O, lda=K, ldb=L, ldc=L, trans_a=True,
                    batch=(1, N), b_strides=(0, O * L), sc=K * L)
        if not pointwise:
            call.launch("conv", "mg_col2im<{T}>", grid_1d(gx.size), (BLOCK_1D,),
                        (gcols, gx, *_window_args(x_shape, w.shape[2:], stride, padding,
                                                  (OH, OW))), fills=(1,))
        return gx


def weight_grad_splits(M, N, images, dtype):
    """(config, splits): the sum over images of the weight gradient runs as `splits` partial
    GEMMs (each block summing every splits-th image) so that small (O x K) outputs still
    fill the GPU; the partials are then summed. Deterministic: no atomics."""
    config = pick_gemm_config(M, N, images, dtype)
    BM, BN = cuda_sources.gemm_tile(config, dtype)[:2]
    tiles = -(-M // BM) * -(-N // BN)
    return config, max(1, min(images, TARGET_BLOCKS // tiles, MAX_GRID_YZ))


def conv2d_grad_weight(x, gy, w_shape, stride, padding, *, cols=None):
    """Gradient of conv2d_forward with respect to w; see reference.conv2d_grad_weight."""
    reference.check_conv_grad_weight_args(x, gy, w_shape, stride, padding)
    with _Call("conv2d_grad_weight", x, gy) as call:
        x, gy = call.contiguous(x), call.contiguous(gy)
        N, O, OH, OW = gy.shape
        K, L = int(np.prod(w_shape[1:])), OH * OW
        if N == 0 or O * K == 0:
            return call.xp.zeros(tuple(int(d) for d in w_shape), dtype=call.dtype)
        if cols is None:
            cols = _im2col(call, x, w_shape[2:], stride, padding, (OH, OW))
        else:  # the forward's columns (keep_cols)
            reference.check_kept_cols("conv2d_grad_weight", cols, (N, K, L), x)
            cols = call.contiguous(cols)
        config, splits = weight_grad_splits(O, K, N, call.dtype)
        gw = call.empty(w_shape)
        partial = gw if splits == 1 else call.empty((splits, O, K))
        # gw (O x K) = sum_n gy[n] (O x L) @ cols[n]^T (L x K)
        gemm_launch(call, gy, cols, partial, M=O, N=K, K=L, lda=L, ldb=L, ldc=K, trans_b=True,
                    batch=(1, N), a_strides=(0, O * L), b_strides=(0, K * L), sc=O * K,
                    reduce_splits=splits, config=config)
        return gw if splits == 1 else partial.sum(axis=0).reshape(gw.shape)


# Pooling: one thread per output forward, one per input element backward (gather).


def _pool_args(x_shape, kernel_size, stride, padding, out_hw):
    N, C, H, W = x_shape
    return _i64(N * C, H, W, *out_hw, *kernel_size, *stride, *padding)


def _launch_1d(call, module, template, n, args, fills):
    call.launch(module, template, grid_1d(n), (BLOCK_1D,), args, fills=fills)


def max_pool2d_forward(x, kernel_size, stride, padding):
    """(y, argmax); see reference.max_pool2d_forward."""
    OH, OW = reference.check_pool_forward_args("max_pool2d_forward", x, kernel_size, stride,
                                               padding)
    with _Call("max_pool2d_forward", x) as call:
        x = call.contiguous(x)
        N, C = x.shape[:2]
        y, argmax = call.empty((N, C, OH, OW)), call.empty((N, C, OH, OW), np.int64)
        if y.size:
            _launch_1d(call, "pool", "mg_max_pool_forward<{T}>", y.size,
                       (x, y, argmax, *_pool_args(x.shape, kernel_size, stride, padding,
                                                  (OH, OW))), fills=(1, 2))
        return y, argmax


def max_pool2d_backward(gy, argmax, x_shape, kernel_size, stride, padding):
    """Gradient of max_pool2d_forward; see reference.max_pool2d_backward. Each input element
    sums the gy of the windows covering it whose argmax is that element, so argmax must come
    from max_pool2d_forward with the same parameters; entries pointing anywhere else (outside
    their own window) raise ValueError."""
    reference.check_max_pool_backward_args(gy, argmax, x_shape, kernel_size, stride, padding)
    with _Call("max_pool2d_backward", gy, argmax) as call:
        gy, argmax = call.contiguous(gy), call.contiguous(argmax)
        gx = call.empty(x_shape)
        if gx.size == 0:
            return gx
        args = _pool_args(x_shape, kernel_size, stride, padding, gy.shape[2:])
        bad = call.xp.zeros((1,), dtype=np.int32)
        _launch_1d(call, "pool", "mg_max_pool_check_argmax<{T}>", gy.size, (argmax, bad, *args),
                   fills=())
        if int(bad.item()):
            raise ValueError(f"max_pool2d_backward: argmax {tuple(argmax.shape)} has entries "
                             f"outside their pooling windows of the {tuple(x_shape)} input; it "
                             "must come from max_pool2d_forward with the same kernel_size, "
                             "stride and padding")
        _launch_1d(call, "pool", "mg_max_pool_backward<{T}>", gx.size, (gy, argmax, gx, *args),
                   fills=(2,))
        return gx


def avg_pool2d_forward(x, kernel_size, stride, padding):
    """Average pooling; see reference.avg_pool2d_forward."""
    OH, OW = reference.check_pool_forward_args("avg_pool2d_forward", x, kernel_size, stride,
                                               padding)
    with _Call("avg_pool2d_forward", x) as call:
        x = call.contiguous(x)
        y = call.empty(x.shape[:2] + (OH, OW))
        if y.size:
            _launch_1d(call, "pool", "mg_avg_pool_forward<{T}>", y.size,
                       (x, y, *_pool_args(x.shape, kernel_size, stride, padding, (OH, OW))),
                       fills=(1,))
        return y


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding):
    """Gradient of avg_pool2d_forward; see reference.avg_pool2d_backward."""
    reference.check_avg_pool_backward_args(gy, x_shape, kernel_size, stride, padding)
    with _Call("avg_pool2d_backward", gy) as call:
        gy = call.contiguous(gy)
        gx = call.empty(x_shape)
        if gx.size:
            _launch_1d(call, "pool", "mg_avg_pool_backward<{T}>", gx.size,
                       (gy, gx, *_pool_args(x_shape, kernel_size, stride, padding,
                                            gy.shape[2:])), fills=(1,))
        return gx

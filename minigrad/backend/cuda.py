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

"""The CUDA GEMM kernel (kernels/cuda/gemm.cu) run by the host emulation against the numpy
reference: both tile configurations, every transposition, ragged edges (sizes that are not
multiples of the tiles, size 1, K = 0), misaligned and odd leading dimensions (the scalar
load path), broadcast batches (stride 0, collapsed and materialised), float32 and float64.
The launch (grid, block, arguments) is computed by backend/cuda.py itself."""

import shutil

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minigrad.backend import cuda, cuda_runners, reference

pytestmark = pytest.mark.skipif(shutil.which(cuda_runners.CXX) is None,
                                reason="the CUDA emulation needs a C++20 compiler")

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 2e-5, np.float64: 1e-13}


def assert_matches(out, a, b, ta=False, tb=False):
    ref = reference.matmul(a.astype(np.float64), b.astype(np.float64), trans_a=ta, trans_b=tb)
    scale = reference.matmul(np.abs(a).astype(np.float64), np.abs(b).astype(np.float64),
                             trans_a=ta, trans_b=tb)
    assert out.dtype == a.dtype and out.shape == ref.shape
    assert type(out) is np.ndarray
    err = np.abs(out.astype(np.float64) - ref)
    assert np.all(err <= RTOL[a.dtype.type] * scale + 1e-30), float(err.max())


def operands(rng, dtype, M, K, N, ta, tb, batch_a=(), batch_b=()):
    a = rng.standard_normal(batch_a + ((K, M) if ta else (M, K))).astype(dtype)
    b = rng.standard_normal(batch_b + ((N, K) if tb else (K, N))).astype(dtype)
    return a, b


def gemm_2d(a, b, ta, tb, config):
    """One 2-D GEMM through cuda.gemm_launch with a forced tile configuration."""
    with cuda._Call("matmul", a, b) as call:
        M, K = (a.shape[1], a.shape[0]) if ta else a.shape
        N = b.shape[0] if tb else b.shape[1]
        out = call.empty((M, N))
        cuda.gemm_launch(call, a, b, out, M=M, N=N, K=K, lda=a.shape[1], ldb=b.shape[1],
                         ldc=N, trans_a=ta, trans_b=tb, config=config)
        return out


SIZES = [(1, 1, 1), (3, 5, 2), (67, 13, 129), (130, 9, 65), (5, 0, 4), (2, 33, 1)]


@pytest.mark.parametrize("config", ["large", "small"])
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_transposition_and_ragged_size(config, ta, tb, dtype):
    rng = np.random.default_rng(0)
    for M, K, N in SIZES:
        a, b = operands(rng, dtype, M, K, N, ta, tb)
        assert_matches(gemm_2d(a, b, ta, tb, config), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
def test_misaligned_and_odd_leading_dimensions_take_the_scalar_path(dtype):
    """A contiguous view one element into its buffer is not 16-byte aligned, so the kernel
    must fall back to element loads (the emulated runner keeps the pointer's alignment)."""
    rng = np.random.default_rng(1)
    for ta in (False, True):
        for tb in (False, True):
            M, K, N = 20, 16, 24  # multiples of the vector width: only the offset misaligns
            a, b = operands(rng, dtype, M, K, N, ta, tb)
            a_off = np.empty(a.size + 1, dtype)[1:].reshape(a.shape)
            a_off[...] = a
            assert a_off.ctypes.data % 16 != 0
            assert_matches(cuda.matmul(a_off, b, trans_a=ta, trans_b=tb), a, b, ta, tb)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes", [
    ((4, 6, 5), (4, 5, 3)),              # plain batch
    ((6, 5), (4, 5, 3)),                 # a broadcast (stride 0)
    ((3, 6, 5), (5, 3)),                 # b broadcast
    ((2, 1, 6, 5), (3, 5, 3)),           # two broadcast axes: outer/inner strides
    ((2, 3, 4, 6, 5), (2, 1, 4, 5, 3)),  # three axes that don't collapse: materialised
    ((1, 1, 6, 5), (1, 5, 3)),           # size-1 batch axes
    ((5,), (2, 5, 3)),                   # 1-D operands, numpy semantics
    ((2, 6, 5), (5,)),
    ((5,), (5,)),
    ((0, 6, 5), (6, 5, 3)[1:]),          # empty batch: no launch
])
def test_batched_broadcast(shapes, dtype):
    rng = np.random.default_rng(2)
    a = rng.standard_normal(shapes[0]).astype(dtype)
    b = rng.standard_normal(shapes[1]).astype(dtype)
    assert_matches(cuda.matmul(a, b), a, b)


@given(M=st.integers(1, 40), K=st.integers(0, 20), N=st.integers(1, 40),
       ta=st.booleans(), tb=st.booleans(), dtype=st.sampled_from(DTYPES),
       batch=st.sampled_from([((), ()), ((2,), ()), ((), (3,)), ((2, 1), (1, 3)), ((1,), (2,))]),
       noncontiguous=st.booleans())
def test_matches_reference(M, K, N, ta, tb, dtype, batch, noncontiguous):
    rng = np.random.default_rng(M * 1000 + K * 10 + N)
    a, b = operands(rng, dtype, M, K, N, ta, tb, *batch)
    if noncontiguous:  # the launcher must copy: a raw kernel ignores strides
        a = np.asfortranarray(a) if a.ndim == 2 else a[..., ::1, :]
        b = np.repeat(b, 2, axis=-1)[..., ::2]
    assert_matches(cuda.matmul(a, b, trans_a=ta, trans_b=tb), a, b, ta, tb)


def test_errors_name_the_op():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match="matmul: inner dimensions"):
        cuda.matmul(a, a)
    with pytest.raises(TypeError, match="matmul: dtypes differ"):
        cuda.matmul(a, np.ones((3, 2)))
    with pytest.raises(TypeError, match="float32 or float64"):
        cuda.matmul(a.astype(np.int32), np.ones((3, 2), np.int32))


class _OtherDevice:
    """An emulated device array (the `_host` protocol) on cuda:1."""

    def __init__(self, host):
        self._host, self.shape, self.dtype, self.ndim = host, host.shape, host.dtype, host.ndim
        self.device = type("Dev", (), {"id": 1})()


def test_mixed_devices_raise():
    a = np.ones((2, 3), np.float32)
    with pytest.raises(RuntimeError, match="matmul: arrays are on different devices"):
        cuda.matmul(a, _OtherDevice(np.ones((3, 2), np.float32)))


def test_kernel_sources_cover_every_op():
    assert set(cuda.kernel_sources()) == set(cuda.OPS)

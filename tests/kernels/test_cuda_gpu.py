"""Our CUDA kernels on a real GPU (cupy.RawModule), against the numpy reference: the emulation
tests' awkward cases on cupy arrays. Skips cleanly without CuPy and a CUDA device;
MINIGRAD_REQUIRE_GPU=1 turns the skip into a failure (benchmarks/gpu.sh sets it)."""

import itertools
import os

import numpy as np
import pytest

from minigrad.backend import cuda, reference


def _real_cupy():
    try:
        import cupy

        if cupy.cuda.runtime.getDeviceCount() > 0:
            return cupy, ""
        return None, "CuPy sees no CUDA device"
    except Exception as exc:  # not installed, no driver, ...
        return None, f"CuPy unusable: {exc}"


@pytest.fixture(scope="module")
def cp():
    cupy, why = _real_cupy()
    if cupy is None:
        if os.environ.get("MINIGRAD_REQUIRE_GPU", "") == "1":
            pytest.fail(f"MINIGRAD_REQUIRE_GPU=1 but {why}")
        pytest.skip(why)
    return cupy


TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
DTYPES = (np.float32, np.float64)


def on_gpu(cp, fn, *args, **kwargs):
    """fn on cupy copies of the numpy arguments; results back as numpy."""
    out = fn(*[cp.asarray(a) if isinstance(a, np.ndarray) else a for a in args], **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    assert all(isinstance(o, cp.ndarray) for o in outs)
    got = tuple(o.get() for o in outs)
    return got if isinstance(out, tuple) else got[0]


@pytest.mark.parametrize("dtype", DTYPES)
def test_gemm(cp, dtype):
    rng = np.random.default_rng(0)
    for (M, K, N), ta, tb in itertools.product(
            [(1, 1, 1), (67, 13, 129), (130, 9, 65), (5, 0, 4), (513, 257, 1025)],
            [False, True], [False, True]):
        a = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
        b = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
        np.testing.assert_allclose(on_gpu(cp, cuda.matmul, a, b, trans_a=ta, trans_b=tb),
                                   reference.matmul(a, b, trans_a=ta, trans_b=tb),
                                   **TOL[dtype])
    for sa, sb in [((2, 1, 6, 5), (3, 5, 3)), ((2, 3, 4, 6, 5), (2, 1, 4, 5, 3)), ((5,), (5, 3))]:
        a, b = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
        np.testing.assert_allclose(on_gpu(cp, cuda.matmul, a, b), reference.matmul(a, b),
                                   **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_conv(cp, dtype):
    rng = np.random.default_rng(1)
    for kernel, stride, padding in itertools.product([(1, 1), (3, 2), (3, 3)],
                                                     [(1, 1), (2, 1), (3, 2)],
                                                     [(0, 0), (1, 0), (2, 1)]):
        x = rng.standard_normal((3, 3, 9, 8)).astype(dtype)
        w = rng.standard_normal((5, 3) + kernel).astype(dtype)
        b = rng.standard_normal(5).astype(dtype)
        y = reference.conv2d_forward(x, w, b, stride, padding)
        gy = rng.standard_normal(y.shape).astype(dtype)
        np.testing.assert_allclose(on_gpu(cp, cuda.conv2d_forward, x, w, b, stride, padding),
                                   y, **TOL[dtype])
        np.testing.assert_allclose(
            on_gpu(cp, cuda.conv2d_grad_input, gy, w, x.shape, stride, padding),
            reference.conv2d_grad_input(gy, w, x.shape, stride, padding), **TOL[dtype])
        np.testing.assert_allclose(
            on_gpu(cp, cuda.conv2d_grad_weight, x, gy, w.shape, stride, padding),
            reference.conv2d_grad_weight(x, gy, w.shape, stride, padding), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_pools(cp, dtype):
    rng = np.random.default_rng(2)
    for kernel, stride, padding in [((2, 2), (2, 2), (0, 0)), ((3, 3), (1, 1), (1, 1)),
                                    ((3, 2), (2, 1), (1, 1)), ((4, 2), (1, 2), (2, 0))]:
        x = rng.standard_normal((2, 3, 11, 10)).astype(dtype)
        x[0, 0, 3, 3] = np.nan
        y, argmax = reference.max_pool2d_forward(x, kernel, stride, padding)
        got_y, got_argmax = on_gpu(cp, cuda.max_pool2d_forward, x, kernel, stride, padding)
        np.testing.assert_array_equal(got_y, y)
        np.testing.assert_array_equal(got_argmax, argmax)
        gy = rng.standard_normal(y.shape).astype(dtype)
        np.testing.assert_allclose(
            on_gpu(cp, cuda.max_pool2d_backward, gy, argmax, x.shape, kernel, stride, padding),
            reference.max_pool2d_backward(gy, argmax, x.shape, kernel, stride, padding),
            **TOL[dtype])
        np.testing.assert_allclose(on_gpu(cp, cuda.avg_pool2d_forward, x, kernel, stride, padding),
                                   reference.avg_pool2d_forward(x, kernel, stride, padding),
                                   **TOL[dtype])
        np.testing.assert_allclose(
            on_gpu(cp, cuda.avg_pool2d_backward, gy, x.shape, kernel, stride, padding),
            reference.avg_pool2d_backward(gy, x.shape, kernel, stride, padding), **TOL[dtype])


def test_kernel_resources_fit(cp):
    """Every kernel's registers and static shared memory fit the 256-thread blocks we launch."""
    from minigrad.backend import cuda_sources

    runner = cuda._raw_runner()
    for module in cuda_sources.MODULES:
        for name in cuda_sources.name_expressions(module):
            kernel = runner.function(module, name, cp.cuda.Device().id)
            assert kernel.max_threads_per_block >= 256, (name, kernel.attributes)
            assert kernel.shared_size_bytes <= 48 * 1024, (name, kernel.attributes)

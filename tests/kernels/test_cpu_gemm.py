"""Native CPU GEMM (minigrad.kernels.cpu.gemm) against a float64 numpy oracle.

Covers every micro-kernel family the CPU supports (scalar / avx2 / avx512), odd and
block-crossing sizes, strided / transposed / read-only / broadcast inputs, batches,
threading on and off, and the error messages.
"""
import numpy as np
import pytest

gemm = pytest.importorskip("minigrad.kernels.cpu.gemm")

from hypothesis import given, settings, strategies as st  # noqa: E402

DTYPES = (np.float32, np.float64)
RTOL = {np.float32: 1e-4, np.float64: 1e-12}


@pytest.fixture(params=gemm.available_isas())
def isa(request):
    gemm.set_isa(request.param)
    yield request.param
    gemm.set_isa(None)


def oracle(a, b, ta=False, tb=False):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if ta:
        a = a.swapaxes(-1, -2)
    if tb:
        b = b.swapaxes(-1, -2)
    return a @ b, np.abs(a) @ np.abs(b)


def check(a, b, ta=False, tb=False):
    out = gemm.matmul(a, b, trans_a=ta, trans_b=tb)
    ref, scale = oracle(a, b, ta, tb)
    dt = a.dtype.type
    assert out.dtype == a.dtype
    assert out.shape == ref.shape
    assert out.flags.c_contiguous
    # error bound relative to sum |a||b| (the natural scale of a dot product's rounding)
    err = np.abs(out.astype(np.float64) - ref)
    assert np.all(err <= RTOL[dt] * (scale + 1e-30)), (err.max(), scale.max())
    return out


def rand(rng, shape, dt):
    return rng.standard_normal(shape).astype(dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize(
    "m,n,k",
    [(1, 1, 1), (1, 7, 1), (7, 1, 5), (3, 5, 1), (13, 33, 17), (12, 32, 256), (25, 65, 257),
     (300, 500, 700), (700, 310, 530), (5, 1000, 3), (1000, 9, 2)],
)
def test_sizes(isa, dt, m, n, k):
    rng = np.random.default_rng(m * 1000 + n * 10 + k)
    check(rand(rng, (m, k), dt), rand(rng, (k, n), dt))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ta", [False, True])
@pytest.mark.parametrize("tb", [False, True])
def test_trans_flags(isa, dt, ta, tb):
    rng = np.random.default_rng(1)
    m, n, k = 37, 41, 300
    a = rand(rng, (k, m) if ta else (m, k), dt)
    b = rand(rng, (n, k) if tb else (k, n), dt)
    check(a, b, ta, tb)
    # the same flags on non-contiguous views
    check(np.asfortranarray(a), b[::1, ::1].T.copy().T, ta, tb)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("m,n,k", [(128, 10, 128), (10, 128, 128), (1, 1, 32), (5, 7, 33),
                                   (12, 300, 39), (301, 11, 47), (4, 3, 64), (13, 2, 1000)])
def test_small_thin_products_along_k(isa, dt, m, n, k):
    """a @ b.T with both operands contiguous along K, one side <= 12: the dot-product kernel
    on SIMD ISAs (gemm_micro.h: ragged 4x3 tiles, K not a multiple of the vector width),
    including operands whose rows are further apart than K (sliced views)."""
    rng = np.random.default_rng(m * 1000 + n + k)
    a, b = rand(rng, (m, k), dt), rand(rng, (n, k), dt)
    check(a, b, tb=True)
    a_wide, b_wide = rand(rng, (m, k + 5), dt), rand(rng, (n, k + 3), dt)
    check(a_wide[:, 2:k + 2], b_wide[:, :k], tb=True)
    check(rand(rng, (3, m, k), dt), b, tb=True)  # batched: one matrix per call of the kernel


@pytest.mark.parametrize("dt", DTYPES)
def test_strided_views_no_copy_needed(isa, dt):
    rng = np.random.default_rng(2)
    big_a = rand(rng, (90, 140), dt)
    big_b = rand(rng, (150, 80), dt)
    check(big_a[::3, 1::2], big_b[:70:1, ::-3])      # step and negative step
    check(big_a.T[::2], big_b[:90, ::2])             # transposed view
    check(big_a[5:6, :70], big_b[:70, 7:8])         # 1 x K @ K x 1


@pytest.mark.parametrize("dt", DTYPES)
def test_readonly_and_stride0(dt):
    rng = np.random.default_rng(3)
    a = rand(rng, (20, 30), dt)
    b = rand(rng, (30, 10), dt)
    a.flags.writeable = False
    b.flags.writeable = False
    check(a, b)
    row = rand(rng, (1, 30), dt)
    check(np.broadcast_to(row, (25, 30)), b)        # stride 0 rows, read-only
    check(np.broadcast_to(rand(rng, (30, 1), dt), (30, 40)).T, b)


def test_odd_byte_strides_copied():
    rec = np.zeros((12, 9), dtype=[("x", np.float32), ("y", np.int8)])
    rec["x"] = np.arange(108, dtype=np.float32).reshape(12, 9)
    a = rec["x"]  # strides 5 bytes: not a multiple of the item size
    b = np.ones((9, 4), np.float32)
    check(a, b)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize(
    "sa,sb",
    [((6, 6, 5, 4), (4, 3)), ((2, 1, 3, 4), (5, 4, 2)), ((3, 4), (7, 4, 2)),
     ((4, 1, 8, 16), (1, 3, 16, 8)), ((64, 5, 7), (64, 7, 6))],
)
def test_batched_broadcast(isa, dt, sa, sb):
    rng = np.random.default_rng(4)
    a, b = rand(rng, sa, dt), rand(rng, sb, dt)
    check(a, b)
    check(np.ascontiguousarray(a.swapaxes(-1, -2)), b, ta=True)


@pytest.mark.parametrize("dt", DTYPES)
def test_batched_strided_and_broadcast_to(dt):
    rng = np.random.default_rng(5)
    a = rand(rng, (4, 9, 12), dt)[::2, :, ::2]                    # (2, 9, 6)
    b = np.broadcast_to(rand(rng, (1, 6, 5), dt), (3, 2, 6, 5))     # stride-0 batch
    check(a, b)
    big = rand(rng, (8, 40, 30), dt)
    check(big, big.transpose(0, 2, 1)[:, :, ::-1])


@pytest.mark.parametrize("dt", DTYPES)
def test_zero_sizes(dt):
    z = gemm.matmul(np.ones((3, 0), dt), np.ones((0, 4), dt))
    assert z.shape == (3, 4) and z.dtype == dt and not z.any()
    assert gemm.matmul(np.ones((0, 5), dt), np.ones((5, 4), dt)).shape == (0, 4)
    assert gemm.matmul(np.ones((3, 5), dt), np.ones((5, 0), dt)).shape == (3, 0)
    assert gemm.matmul(np.ones((0, 3, 5), dt), np.ones((5, 2), dt)).shape == (0, 3, 2)
    z = gemm.matmul(np.ones((2, 3, 0), dt), np.ones((1, 0, 4), dt))
    assert z.shape == (2, 3, 4) and not z.any()


@pytest.mark.parametrize("threads", [1, 2])
def test_threads_and_batch_parallel(threads):
    rng = np.random.default_rng(6)
    gemm.set_num_threads(threads)
    try:
        for dt in DTYPES:
            check(rand(rng, (400, 300), dt), rand(rng, (300, 200), dt))   # split along M
            check(rand(rng, (30, 300), dt), rand(rng, (300, 900), dt))    # split along N
            check(rand(rng, (200, 24, 40), dt), rand(rng, (200, 40, 30), dt))  # batch-parallel
            check(rand(rng, (20000, 30), dt), rand(rng, (20000, 9), dt), ta=True)  # split K
            check(rand(rng, (3000, 10), dt), rand(rng, (12, 10), dt), tb=True)  # operand swap
    finally:
        gemm.set_num_threads(0)


def test_errors():
    f32, f64 = np.ones((3, 4), np.float32), np.ones((4, 2), np.float64)
    with pytest.raises(TypeError, match=r"matmul.*float32.*float64"):
        gemm.matmul(f32, f64)
    with pytest.raises(TypeError, match="matmul"):
        gemm.matmul(np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))
    with pytest.raises(ValueError, match=r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned: 4 != 5"):
        gemm.matmul(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError, match="not aligned"):
        gemm.matmul(np.ones((3, 4)), np.ones((3, 4)), trans_b=False)
    with pytest.raises(ValueError, match="matmul"):
        gemm.matmul(np.ones(4), np.ones((4, 2)))
    with pytest.raises(ValueError, match="matmul"):
        gemm.matmul(np.ones((2, 3, 4)), np.ones((5, 4, 2)))
    # transposing makes it valid
    assert gemm.matmul(np.ones((3, 4)), np.ones((3, 4)), trans_a=True).shape == (4, 4)


def test_set_isa_validation():
    with pytest.raises(ValueError):
        gemm.set_isa("neon")
    gemm.set_isa(None)
    assert gemm.isa() == gemm.available_isas()[-1]


@settings(deadline=None, max_examples=60)
@given(
    m=st.integers(1, 40), n=st.integers(1, 70), k=st.integers(1, 40),
    ta=st.booleans(), tb=st.booleans(), dt=st.sampled_from(DTYPES),
    step_a=st.integers(1, 3), step_b=st.integers(-2, 2).filter(bool),
    batch=st.sampled_from([(), (1,), (3,), (2, 1)]), bcast_b=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_hypothesis(m, n, k, ta, tb, dt, step_a, step_b, batch, bcast_b, seed):
    rng = np.random.default_rng(seed)
    sa = (k, m) if ta else (m, k)
    sb = (n, k) if tb else (k, n)
    a = rand(rng, batch + (sa[0] * step_a, sa[1]), dt)[..., ::step_a, :]
    b = rand(rng, batch + (sb[0], sb[1] * abs(step_b)), dt)[..., :, ::step_b]
    if bcast_b and batch:
        b = b[(0,) * len(batch)]
    check(a, b, ta, tb)

"""mg.gradcheck_precision: float32 forward and backward against float64 on the same values,
within a rounding-error budget. Our float32 Cython kernels (GEMM, conv2d, pooling) pass; an
op that accumulates in reduced precision (every partial sum rounded to 16 mantissa bits) is
flagged."""

import json

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F


def round_mantissa(a, bits=16):
    """float32 values rounded (to nearest even) to `bits` fraction bits instead of 23."""
    drop = 23 - bits
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    half = np.uint32((1 << (drop - 1)) - 1)
    u = (u + half + ((u >> np.uint32(drop)) & np.uint32(1))) & np.uint32(~((1 << drop) - 1) & 0xFFFFFFFF)
    return u.view(np.float32)


def low_precision_matmul(a, b):
    """a @ b in float32, rounding every partial sum to 16 mantissa bits."""
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    for k in range(a.shape[1]):
        acc = round_mantissa(acc + a[:, k:k + 1] * b[k:k + 1, :])
    return acc


def matmul_array(a, b):
    return low_precision_matmul(a, b) if a.dtype == np.float32 else a @ b


class SloppyMatmul(mg.Function):
    """Exact in float64; in float32 its accumulator keeps only 16 mantissa bits."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return mg.from_numpy(matmul_array(a.detach().numpy(), b.detach().numpy()))

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        g_, a_, b_ = (t.detach().numpy() for t in (g, a, b))
        return (mg.from_numpy(matmul_array(g_, np.ascontiguousarray(b_.T))),
                mg.from_numpy(matmul_array(np.ascontiguousarray(a_.T), g_)))


def rand(*shape, seed=0):
    return mg.tensor(np.random.default_rng(seed).standard_normal(shape), dtype=mg.float32,
                     requires_grad=True)


def test_round_mantissa_keeps_16_bits():
    x = np.array([1 + 2.0 ** -16, 1 + 2.0 ** -18, 1 + 3 * 2.0 ** -17], dtype=np.float32)
    np.testing.assert_array_equal(round_mantissa(x), [1 + 2.0 ** -16, 1.0, 1 + 2.0 ** -15])


def test_reduced_precision_accumulation_is_flagged():
    a, b = rand(8, 64, seed=1), rand(64, 6, seed=2)
    report = mg.gradcheck_precision(SloppyMatmul.apply, (a, b), raise_exception=False)
    assert not report.passed
    assert report.float64.passed  # stage 1: the float64 backward is right
    forward = next(e for e in report.entries if e.what == "forward output 0")
    assert not forward.passed and forward.abs_err > forward.budget
    assert forward.reduction_length == 64
    assert forward.ulps > 100  # 16 instead of 23 mantissa bits: ~2^7 ulps per rounding
    with pytest.raises(mg.GradcheckError, match=r"(?s)SloppyMatmul: float32 exceeds its rounding-error "
                                                r"budget.*ulps"):
        mg.gradcheck_precision(SloppyMatmul.apply, (a, b))
    json.dumps(report.to_dict())


def test_a_wrong_float64_backward_is_reported_first():
    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    report = mg.gradcheck_precision(Wrong.apply, (rand(4),), raise_exception=False)
    assert not report.passed and "float64 backward itself is wrong" in report.message


@pytest.mark.parametrize("name, fn, shapes", [
    ("matmul", lambda a, b: a @ b, [(16, 64), (64, 12)]),
    ("matmul_batched", lambda a, b: a @ b, [(3, 8, 40), (40, 5)]),
    ("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1), [(2, 3, 7, 7), (4, 3, 3, 3), (4,)]),
    ("conv2d_stride", lambda x, w: F.conv2d(x, w, stride=2), [(2, 4, 9, 9), (5, 4, 3, 3)]),
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), [(2, 3, 8, 8)]),
    ("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1), [(2, 3, 9, 9)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), [(5, 32), (7, 32), (7,)]),
])
def test_real_float32_kernels_are_within_budget(name, fn, shapes, device):
    """The Cython kernels on "cpu"; our CUDA kernels on "cuda" (a GPU, or host-emulated).

    On "cuda" stage 1 (float64 against finite differences) uses fast mode: the full Jacobian
    would take two forward calls per input element through the (slow) host emulation, and the
    float64 CUDA gradients are checked entry by entry by the device suite anyway.
    """
    inputs = tuple(rand(*s, seed=k).detach().to(device).requires_grad_() for k, s in enumerate(shapes))
    report = mg.gradcheck_precision(fn, inputs, raise_exception=False, name=name,
                                    fast_mode=device != "cpu")
    assert report.passed, report.message
    assert len(report.entries) == 1 + len(shapes)  # the output and every input's gradient
    for entry in report.entries:
        assert entry.abs_err <= entry.budget


def test_message_states_the_budget():
    report = mg.gradcheck_precision(lambda a, b: a @ b, (rand(4, 32), rand(32, 3, seed=1)))
    text = report.message
    assert "float32 forward and backward are within budget" in text
    assert "2 * sqrt(K) * eps * s + eps * |float64|" in text
    assert "K = 32" in text  # the reduction length of the forward, from all-ones inputs

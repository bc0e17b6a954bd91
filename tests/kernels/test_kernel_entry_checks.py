"""Every compiled function checks its own arguments before it drops the GIL (issue 8, item 4).

minigrad.kernels.cpu.* is importable, so its functions can be called with anything: an empty
plane with padding (max_pool2d_forward read x[0] of a 0 x 0 input), an output that aliases the
input (col2im, swap01 and the pooling backwards gave wrong numbers), a cols array
whose row stride is not a multiple of the item size (im2col misread it), mixed dtypes, wrong
shapes. Each must raise TypeError / ValueError whose message starts with the function's name.

The functions are found by introspecting the compiled modules, so a new public function
without cases here fails test_every_compiled_function_has_bad_input_cases.
"""

import pkgutil

import numpy as np
import pytest

import minigrad.kernels.cpu as kernels_pkg

gemm = pytest.importorskip("minigrad.kernels.cpu.gemm")
conv = pytest.importorskip("minigrad.kernels.cpu.conv")
pool = pytest.importorskip("minigrad.kernels.cpu.pool")
hello = pytest.importorskip("minigrad.kernels.cpu.hello")
elementwise = pytest.importorskip("minigrad.kernels.cpu.elementwise")

F32, F64 = np.float32, np.float64

# Functions that take no arrays and run no kernel: thread / ISA settings and diagnostics.
SETTINGS = {"set_num_threads", "get_num_threads", "has_openmp", "last_team_size", "isa",
            "available_isas", "set_isa", "openmp_threads", "thread_num", "threads_now"}


def public_functions():
    """(module name, function name) of every public function defined in a compiled module."""
    found = set()
    for info in pkgutil.iter_modules(kernels_pkg.__path__):
        module = __import__(f"minigrad.kernels.cpu.{info.name}", fromlist=["_"])
        if not hasattr(module, "__file__") or module.__file__.endswith(".py"):
            continue
        for name in dir(module):
            obj = getattr(module, name)
            if (not name.startswith("_") and callable(obj) and not isinstance(obj, type)
                    and getattr(obj, "__module__", None) == module.__name__):
                found.add((info.name, name))
    return found


def _read_only(n):
    a = np.empty(n, F64)
    a.flags.writeable = False
    return a


def test_elementwise_kernels_may_run_in_place_but_not_on_shifted_views():
    x = np.array([-1.0, 2.0, -0.0, np.nan])
    elementwise.relu_forward(x, x)  # the exact same array: elementwise, safe
    np.testing.assert_array_equal(x, [0.0, 2.0, 0.0, np.nan])
    gy = np.array([1.0, 2.0, 3.0, 4.0])
    elementwise.relu_backward(x, gy, gy)
    np.testing.assert_array_equal(gy, [0.0, 2.0, 0.0, 0.0])


def odd_strided(shape, dtype, byte_offset=2):
    """A writeable array whose strides are not multiples of its item size (a view into bytes)."""
    itemsize = np.dtype(dtype).itemsize
    n = int(np.prod(shape))
    raw = np.zeros(2 * n * itemsize + 1024, np.uint8)
    strides = []
    step = itemsize
    for d in reversed(shape):
        strides.append(step)
        step = step * d + byte_offset  # every outer stride is off by byte_offset
    return np.ndarray(shape, dtype, buffer=raw, offset=1, strides=tuple(reversed(strides)))


def self_overlapping(shape, dtype):
    """A writeable view whose rows all share one row of memory (stride 0 on axis 1)."""
    base = np.zeros(shape[0] * shape[2], dtype)
    it = base.itemsize
    return np.lib.stride_tricks.as_strided(base, shape, (shape[2] * it, 0, it),
                                           writeable=True)


def read_only(a):
    a.flags.writeable = False
    return a


def x4(*shape, dtype=F32):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


# Geometry shared by the conv and pool cases: 2 x 3 x 5 x 5 input, 3 x 3 kernel, stride 2,
# padding 1 -> 3 x 3 output; cols (2, 27, 9).
WIN = ((3, 3), (2, 2), (1, 1))
X = (2, 3, 5, 5)
COLS = (2, 27, 9)
Y = (2, 3, 3, 3)
# gemm.conv2d_forward_implicit: no padding, bias column, 2 x 4 x 2 x 2 output
IWIN = ((3, 3), (2, 2), True)
IY = (2, 4, 2, 2)


def cols_sharing_x():
    buf = np.zeros(2 * 3 * 5 * 5 + 2 * 27 * 9, F32)
    return buf[:150].reshape(X), buf[100:100 + 486].reshape(COLS)


def _col2im_aliasing():
    # gx lies inside cols' memory: col2im zeroes gx, then reads cols it just overwrote.
    cols = x4(*COLS)
    gx = cols.reshape(-1)[:150].reshape(X)
    return (cols, gx, *WIN)


def _swap_aliasing(fn):
    src = x4(4, 4, 6)
    return src, src, None


def _pool_backward_aliasing():
    # gy lies inside gx's memory: the kernel zeroes gx, then reads the gy it just overwrote.
    gy = x4(*Y)
    gx_alias = np.zeros(150, F32)
    gy_alias = gx_alias[:54].reshape(Y)
    gy_alias[...] = gy
    return gy_alias, gx_alias.reshape(X)


def _argmax():
    return np.zeros(Y, np.int64)


CASES = {
    ("gemm", "matmul"): [
        (TypeError, lambda: (x4(3, 4), x4(4, 2, dtype=F64))),
        (TypeError, lambda: (np.ones((3, 4), np.int64), np.ones((4, 2), np.int64))),
        (ValueError, lambda: (x4(4), x4(4, 2))),
        (ValueError, lambda: (x4(3, 4), x4(5, 2))),
        (ValueError, lambda: (x4(2, 3, 4), x4(3, 4, 2))),
    ],
    # x (2, 3, 5, 5), wk (4, 27 + 1 bias column), kernel 3x3, stride 2 -> y (2, 4, 2, 2)
    ("gemm", "conv2d_forward_implicit"): [
        (TypeError, lambda: (x4(*X).tolist(), x4(4, 28), np.empty(IY, F32), *IWIN)),
        (TypeError, lambda: (x4(*X), x4(4, 28, dtype=F64), np.empty(IY, F32), *IWIN)),
        (TypeError, lambda: (x4(*X, dtype=np.float16), x4(4, 28, dtype=np.float16),
                             np.empty(IY, np.float16), *IWIN)),
        (TypeError, lambda: (x4(*X), x4(4, 28), np.empty(IY, F32), (3, 3.5), (2, 2), True)),
        (TypeError, lambda: (x4(*X), x4(4, 28), np.empty(IY, F32), 3, (2, 2), True)),
        (ValueError, lambda: (x4(2, 3, 5), x4(4, 28), np.empty(IY, F32), *IWIN)),
        (ValueError, lambda: (x4(2, 3, 5, 10)[..., ::2], x4(4, 28), np.empty(IY, F32), *IWIN)),
        (ValueError, lambda: (x4(*X), x4(4, 27), np.empty(IY, F32), *IWIN)),  # no bias column
        (ValueError, lambda: (x4(*X), x4(4, 28), np.empty((2, 4, 3, 3), F32), *IWIN)),
        (ValueError, lambda: (x4(*X), x4(4, 28), np.empty((2, 4, 4, 2), F32)[:, :, ::2],
                              *IWIN)),
        (ValueError, lambda: (x4(*X), x4(4, 28), read_only(np.empty(IY, F32)), *IWIN)),
        (ValueError, lambda: (x4(*X), x4(4, 28), np.empty(IY, F32), (6, 3), (2, 2), True)),
        (ValueError, lambda: (x4(*X), x4(4, 28), np.empty(IY, F32), (3, 3), (0, 2), True)),
        (ValueError, lambda: (lambda buf: (buf[:150].reshape(X), x4(4, 28),
                                           buf[118:150].reshape(IY), *IWIN))(x4(150))),
        (ValueError, lambda: (lambda buf: (x4(*X), buf[:112].reshape(4, 28),
                                           buf[96:128].reshape(IY), *IWIN))(x4(128))),
    ],
    # x (2, 3, 5, 5), gy (2, 4, 2, 2), kernel 3x3, stride 2 -> gwt (27, 4)
    ("gemm", "conv2d_grad_weight_implicit"): [
        (TypeError, lambda: (x4(*X).tolist(), x4(*IY), np.empty((27, 4), F32), (3, 3), (2, 2))),
        (TypeError, lambda: (x4(*X), x4(*IY, dtype=F64), np.empty((27, 4), F32), (3, 3), (2, 2))),
        (TypeError, lambda: (x4(*X), x4(*IY), np.empty((27, 4), F32), (3, 3), (2.0, 2))),
        (ValueError, lambda: (x4(*X), x4(2, 4, 2), np.empty((27, 4), F32), (3, 3), (2, 2))),
        (ValueError, lambda: (x4(*X), x4(2, 4, 2, 4)[..., ::2], np.empty((27, 4), F32), (3, 3),
                              (2, 2))),
        (ValueError, lambda: (x4(*X), x4(2, 4, 3, 3), np.empty((27, 4), F32), (3, 3), (2, 2))),
        (ValueError, lambda: (x4(*X), x4(*IY), np.empty((4, 27), F32), (3, 3), (2, 2))),
        (ValueError, lambda: (x4(*X), x4(*IY), np.empty((27, 8), F32)[:, ::2], (3, 3), (2, 2))),
        (ValueError, lambda: (x4(*X), x4(*IY), read_only(np.empty((27, 4), F32)), (3, 3),
                              (2, 2))),
        (ValueError, lambda: (x4(*X), x4(*IY), np.empty((27, 4), F32), (3, 6), (2, 2))),
        (ValueError, lambda: (x4(*X), x4(*IY), np.empty((27, 4), F32), (3, 3), (2, -1))),
        (ValueError, lambda: (lambda buf: (buf[:150].reshape(X), x4(*IY),
                                           buf[40:148].reshape(27, 4), (3, 3), (2, 2)))(x4(150))),
        (ValueError, lambda: (lambda buf: (x4(*X), buf[:32].reshape(IY),
                                           buf[20:128].reshape(27, 4), (3, 3), (2, 2)))(x4(128))),
    ],
    # gy (2, 4, 2, 2), w (4, 3, 3, 3), stride 2 -> gx (2, 3, 5, 5)
    ("gemm", "conv2d_grad_input_implicit"): [
        (TypeError, lambda: (x4(*IY).tolist(), x4(4, 3, 3, 3), np.empty(X, F32), (2, 2))),
        (TypeError, lambda: (x4(*IY), x4(4, 3, 3, 3, dtype=F64), np.empty(X, F32), (2, 2))),
        (TypeError, lambda: (x4(*IY), x4(4, 3, 3, 3), np.empty(X, F32), 2)),
        (ValueError, lambda: (x4(2, 4, 2), x4(4, 3, 3, 3), np.empty(X, F32), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 3, 3, 6)[..., ::2], np.empty(X, F32), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 2, 3, 3), np.empty(X, F32), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(5, 3, 3, 3), np.empty(X, F32), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 3, 3, 3), np.empty((2, 3, 7, 5), F32), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 3, 3, 3), np.empty((2, 3, 5, 10), F32)[..., ::2],
                              (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 3, 3, 3), read_only(np.empty(X, F32)), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 3, 6, 3), np.empty(X, F32), (2, 2))),
        (ValueError, lambda: (x4(*IY), x4(4, 3, 3, 3), np.empty(X, F32), (0, 2))),
        (ValueError, lambda: (lambda buf: (buf[:32].reshape(IY), x4(4, 3, 3, 3),
                                           buf[:150].reshape(X), (2, 2)))(x4(150))),
        (ValueError, lambda: (lambda buf: (x4(*IY), buf[:108].reshape(4, 3, 3, 3),
                                           buf[100:250].reshape(X), (2, 2)))(x4(250))),
    ],
    ("conv", "im2col"): [
        (TypeError, lambda: (x4(*X).tolist(), np.empty(COLS, F32), *WIN)),
        (TypeError, lambda: (x4(*X), np.empty(COLS, F64), *WIN)),
        (TypeError, lambda: (x4(*X, dtype=np.float16), np.empty(COLS, np.float16), *WIN)),
        (TypeError, lambda: (x4(*X), np.empty(COLS, F32), 3, (2, 2), (1, 1))),
        (ValueError, lambda: (x4(2, 3, 5), np.empty(COLS, F32), *WIN)),
        (ValueError, lambda: (x4(2, 3, 5, 10)[..., ::2], np.empty(COLS, F32), *WIN)),
        (ValueError, lambda: (x4(*X), odd_strided(COLS, F32), *WIN)),  # row stride 4*9 + 2
        (ValueError, lambda: (x4(*X), np.empty((2, 27, 18), F32)[..., ::2], *WIN)),
        (ValueError, lambda: (x4(*X), read_only(np.empty(COLS, F32)), *WIN)),
        (ValueError, lambda: (x4(*X), self_overlapping(COLS, F32), *WIN)),
        (ValueError, lambda: cols_sharing_x() + WIN),
        (ValueError, lambda: (x4(*X), np.empty((2, 27, 8), F32), *WIN)),
        (ValueError, lambda: (x4(*X), np.empty(COLS, F32), (3, 3), (2**70, 2), (1, 1))),
        (ValueError, lambda: (x4(*X), np.empty(COLS, F32), (0, 3), (2, 2), (1, 1))),
    ],
    ("conv", "col2im"): [
        (TypeError, lambda: (x4(*COLS), np.empty(X, F64), *WIN)),
        (ValueError, lambda: (odd_strided(COLS, F32), np.empty(X, F32), *WIN)),
        (ValueError, lambda: (x4(*COLS), np.empty((2, 3, 5, 10), F32)[..., ::2], *WIN)),
        (ValueError, lambda: (x4(*COLS), read_only(np.empty(X, F32)), *WIN)),
        (ValueError, _col2im_aliasing),
        (ValueError, lambda: (x4(*COLS), np.empty((2, 3, 8, 5), F32), *WIN)),
        (ValueError, lambda: (x4(*COLS), np.empty(X, F32), (3, 3), (2, 2), (2**62, 0))),
    ],
    ("conv", "swap01"): [
        (ValueError, lambda: _swap_aliasing("swap01")),
        (TypeError, lambda: (x4(4, 3, 6), np.empty((3, 4, 6), F64))),
        (ValueError, lambda: (x4(4, 3, 6), np.empty((3, 4, 5), F32))),
        (ValueError, lambda: (x4(4, 3, 12)[..., ::2], np.empty((3, 4, 6), F32))),
        (ValueError, lambda: (x4(4, 3, 6), np.empty((3, 4, 6), F32), x4(3))),
        (ValueError, lambda: (x4(4, 3, 6), np.empty((3, 4, 6), F32), x4(4, 1))),
        (TypeError, lambda: (x4(4, 3, 6), np.empty((3, 4, 6), F32), x4(4, dtype=F64))),
        (ValueError, lambda: (lambda d: (x4(4, 3, 6), d, d.reshape(-1)[:4]))(
            np.empty((3, 4, 6), F32))),
    ],
    ("pool", "max_pool2d_forward"): [
        # A 0 x 0 plane with padding: its only window holds no element (read x[0] before).
        (ValueError, lambda: (np.empty((1, 1, 0, 0), F32), np.empty((1, 1, 1, 1), F32),
                              np.empty((1, 1, 1, 1), np.int64), (2, 2), (2, 2), (1, 1))),
        (ValueError, lambda: (np.empty((1, 1, 0, 3), F32), np.empty((1, 1, 1, 2), F32),
                              np.empty((1, 1, 1, 2), np.int64), (2, 2), (2, 2), (1, 1))),
        (TypeError, lambda: (x4(*X), np.empty(Y, F64), _argmax(), *WIN)),
        (TypeError, lambda: (x4(*X), np.empty(Y, F32), np.zeros(Y, np.int32), *WIN)),
        (ValueError, lambda: (x4(*X), np.empty((2, 3, 2, 3), F32), _argmax(), *WIN)),
        (ValueError, lambda: (x4(*X), np.empty(Y, F32), np.zeros((2, 3, 3, 2), np.int64), *WIN)),
        (ValueError, lambda: (x4(2, 3, 5, 10)[..., ::2], np.empty(Y, F32), _argmax(), *WIN)),
        (ValueError, lambda: (lambda x: (x, x.reshape(-1)[:54].reshape(Y), _argmax(), *WIN))(
            x4(*X))),
        (ValueError, lambda: (lambda y: (x4(*X, dtype=F64), y, y.view(np.int64), *WIN))(
            np.empty(Y, F64))),
        (ValueError, lambda: (x4(*X, dtype=F64), np.empty(Y, F64),
                              np.zeros(Y, np.int64)[..., ::-1], *WIN)),
        (ValueError, lambda: (x4(*X), np.empty(Y, F32), _argmax(), (3, 3), (2, 2), (2, 2))),
    ],
    ("pool", "max_pool2d_backward"): [
        (ValueError, lambda: (lambda gy, gx: (gy, _argmax(), gx))(*_pool_backward_aliasing())),
        (ValueError, lambda: (lambda buf: (x4(*Y, dtype=F64), buf[:54].reshape(Y),
                                           buf.view(F64).reshape(X)))(np.zeros(150, np.int64))),
        (TypeError, lambda: (x4(*Y), _argmax(), np.empty(X, F64))),
        (TypeError, lambda: (x4(*Y), np.zeros(Y, F64), np.empty(X, F32))),
        (ValueError, lambda: (x4(*Y), np.zeros((2, 3, 3, 2), np.int64), np.empty(X, F32))),
        (ValueError, lambda: (x4(*Y), np.full(Y, 25, np.int64), np.empty(X, F32))),
        (ValueError, lambda: (x4(*Y), _argmax(), read_only(np.empty(X, F32)))),
    ],
    ("pool", "avg_pool2d_forward"): [
        (ValueError, lambda: (np.empty((1, 1, 0, 0), F32), np.empty((1, 1, 1, 1), F32),
                              (2, 2), (2, 2), (1, 1))),
        (ValueError, lambda: (lambda x: (x, x.reshape(-1)[:54].reshape(Y), *WIN))(x4(*X))),
        (TypeError, lambda: (x4(*X), np.empty(Y, F64), *WIN)),
        (ValueError, lambda: (x4(*X), np.empty((2, 3, 3, 4), F32), *WIN)),
        (ValueError, lambda: (x4(*X), np.empty(Y, F32), (2**62, 2), (1, 1), (2**61, 1))),
    ],
    ("pool", "avg_pool2d_backward"): [
        (ValueError, lambda: (lambda gy, gx: (gy, gx, *WIN))(*_pool_backward_aliasing())),
        (TypeError, lambda: (x4(*Y), np.empty(X, F64), *WIN)),
        (ValueError, lambda: (x4(2, 3, 3, 2), np.empty(X, F32), *WIN)),
        (ValueError, lambda: (x4(*Y), np.empty(X, F32)[:, :, :, ::-1], *WIN)),
    ],
    ("hello", "parallel_sum"): [
        (TypeError, lambda: (np.ones(4, F32),)),
        (ValueError, lambda: (np.ones((2, 2), F64),)),
        (ValueError, lambda: (np.ones(8, F64)[::2],)),
        (TypeError, lambda: ([1.0, 2.0],)),
    ],
    ("elementwise", "relu_forward"): [
        (TypeError, lambda: ([1.0, -1.0], np.empty(2, F64))),
        (TypeError, lambda: (np.ones(4, F32), np.empty(4, F64))),
        (TypeError, lambda: (np.ones(4, np.int64), np.empty(4, np.int64))),
        (ValueError, lambda: (np.ones(4, F64), np.empty(5, F64))),
        (ValueError, lambda: (np.ones((2, 2), F64), np.empty((2, 2), F64))),
        (ValueError, lambda: (np.ones(8, F64)[::2], np.empty(4, F64))),
        (ValueError, lambda: (np.ones(4, F64), _read_only(4))),
        (ValueError, lambda: (lambda b: (b[:4], b[1:5]))(np.arange(6.0))),  # shifted overlap
    ],
    ("elementwise", "relu_backward"): [
        (TypeError, lambda: (np.ones(4, F64), np.ones(4, F32), np.empty(4, F64))),
        (ValueError, lambda: (np.ones(4, F64), np.ones(3, F64), np.empty(4, F64))),
        (ValueError, lambda: (np.ones(4, F64), np.ones(4, F64), np.empty(3, F64))),
        (ValueError, lambda: (np.ones(4, F64), np.ones(8, F64)[::2], np.empty(4, F64))),
        (ValueError, lambda: (lambda b: (np.ones(4, F64), b[:4], b[2:6]))(np.arange(6.0))),
    ],
    ("hello", "call_in_parallel_region"): [
        (ValueError, lambda: (lambda: None, 0)),
        (TypeError, lambda: (None, 2)),
    ],
}


# threads.pxi's busy_threads, in every module that includes it.
for _module in ("gemm", "conv", "pool", "hello", "elementwise"):
    CASES[(_module, "busy_threads")] = [
        (TypeError, lambda: (2.0, 2, 0.0)),
        (TypeError, lambda: (True, 2, 0.0)),
        (TypeError, lambda: (2, 2, "busy")),
        (ValueError, lambda: (0, 2, 0.0)),
        (ValueError, lambda: (2, -1, 0.0)),
        (ValueError, lambda: (2, 2, float("nan"))),
        (ValueError, lambda: (2, 2 ** 40, 0.0)),
    ]


def test_every_compiled_function_has_bad_input_cases():
    functions = public_functions()
    assert ("conv", "im2col") in functions and ("pool", "max_pool2d_forward") in functions
    missing = {f for f in functions if f[1] not in SETTINGS} - set(CASES)
    assert not missing, f"compiled functions without bad-input cases here: {sorted(missing)}"
    stale = set(CASES) - functions
    assert not stale, f"cases for functions that no longer exist: {sorted(stale)}"


@pytest.mark.parametrize("module, name, exc, make", [
    pytest.param(m, n, exc, make, id=f"{n}-{i}")
    for (m, n), cases in CASES.items() for i, (exc, make) in enumerate(cases)
])
def test_bad_arguments_raise_naming_the_function(module, name, exc, make):
    fn = getattr({"gemm": gemm, "conv": conv, "pool": pool, "hello": hello,
                  "elementwise": elementwise}[module], name)
    args = make()
    with pytest.raises(exc, match=f"^{name}: "):
        fn(*args)


def test_odd_strides_are_rejected_not_misread():
    # The same cols as a regular array work; only the misaligned view is refused.
    x = x4(*X)
    good = np.empty(COLS, F32)
    conv.im2col(x, good, *WIN)
    from minigrad.backend import reference

    np.testing.assert_array_equal(good, reference.im2col(x, *WIN)[0])


def test_aliasing_checks_do_not_refuse_neighbouring_views():
    # cpu.py's layout: cols is a swapaxes view of the top rows of a bigger buffer. Disjoint
    # parts of one buffer are fine; only shared elements are refused.
    x = x4(*X)
    buf = np.zeros((27 + 1, 2, 9), F32)
    conv.im2col(x, buf[:27].swapaxes(0, 1), *WIN)
    from minigrad.backend import reference

    np.testing.assert_array_equal(buf[:27].swapaxes(0, 1), reference.im2col(x, *WIN)[0])
    both = np.zeros(2 * 54, F32)
    src, dst = both[:54].reshape(3, 3, 6), both[54:].reshape(3, 3, 6)
    src[...] = x4(3, 3, 6)
    conv.swap01(src, dst)
    np.testing.assert_array_equal(dst, src.swapaxes(0, 1))


def test_matmul_copies_odd_strides_documented():
    # gemm.matmul documents a copy for strides that are not whole items: the result is exact.
    a = odd_strided((3, 4), F64)
    a[...] = np.arange(12.0).reshape(3, 4)
    b = x4(4, 2, dtype=F64)
    np.testing.assert_allclose(gemm.matmul(a, b), np.asarray(a) @ b, rtol=1e-12)

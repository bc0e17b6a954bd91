"""Every backend's kernel table against the interface (backend/interface.py): the names, the
signatures (the numpy reference's), and the results of the reference on shared cases.

Parametrised over devices by the `device` fixture: "cpu" (Cython where built) and "cuda" (a GPU,
or the emulated device under MINIGRAD_FAKE_CUDA=1; skipped otherwise). A new backend adds a
device, not a test file.
"""

import inspect

import numpy as np
import pytest

import minigrad as mg
from minigrad.backend import cpu, interface, reference

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=1e-4, atol=1e-4), np.float64: dict(rtol=1e-10, atol=1e-10)}


def to_host(a):
    return a if isinstance(a, np.ndarray) else a.get()


def on(device, *arrays):
    """The host arrays copied onto `device` (non-array arguments pass through)."""
    xp = mg.Device(device).xp
    return [xp.asarray(a) if isinstance(a, np.ndarray) else a for a in arrays]


def conv_case(rng, dtype, bias, stride, padding, kernel=(3, 2)):
    x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
    w = rng.standard_normal((4, 3) + kernel).astype(dtype)
    b = rng.standard_normal(4).astype(dtype) if bias else None
    gy = rng.standard_normal(reference.conv2d_forward(x, w, b, stride, padding).shape).astype(dtype)
    return x, w, b, gy


def pool_input(rng, dtype):
    # Distinct values: no ties, so max pooling's argmax is unique and must agree exactly.
    return (rng.permutation(2 * 3 * 7 * 6).reshape(2, 3, 7, 6) * 0.25).astype(dtype)


def shared_cases():
    """(id, kernel name, builder(rng, dtype) -> positional args, keyword args)."""
    cases = []
    for ta in (False, True):
        for tb in (False, True):
            def matmul_args(rng, dtype, ta=ta, tb=tb):
                a = rng.standard_normal((5, 3) if ta else (3, 5)).astype(dtype)
                b = rng.standard_normal((4, 5) if tb else (5, 4)).astype(dtype)
                return (a, b), dict(trans_a=ta, trans_b=tb)
            cases.append((f"matmul-ta{int(ta)}-tb{int(tb)}", "matmul", matmul_args))

    def batched_matmul(rng, dtype):
        a = rng.standard_normal((2, 1, 3, 5)).astype(dtype)
        b = rng.standard_normal((4, 5, 2)).astype(dtype)
        return (a, b), {}
    cases.append(("matmul-broadcast-batch", "matmul", batched_matmul))

    for bias in (False, True):
        for stride, padding in (((1, 1), (0, 0)), ((2, 1), (1, 2))):
            tag = f"bias{int(bias)}-s{stride[0]}{stride[1]}-p{padding[0]}{padding[1]}"

            def forward(rng, dtype, bias=bias, stride=stride, padding=padding):
                x, w, b, _ = conv_case(rng, dtype, bias, stride, padding)
                return (x, w, b, stride, padding), {}

            def grad_input(rng, dtype, bias=bias, stride=stride, padding=padding):
                x, w, _, gy = conv_case(rng, dtype, bias, stride, padding)
                return (gy, w, x.shape, stride, padding), {}

            def grad_weight(rng, dtype, bias=bias, stride=stride, padding=padding):
                x, w, _, gy = conv_case(rng, dtype, bias, stride, padding)
                return (x, gy, w.shape, stride, padding), {}
            cases += [(f"conv2d_forward-{tag}", "conv2d_forward", forward),
                      (f"conv2d_grad_input-{tag}", "conv2d_grad_input", grad_input),
                      (f"conv2d_grad_weight-{tag}", "conv2d_grad_weight", grad_weight)]

    for kernel, stride, padding in (((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 1))):
        tag = f"k{kernel[0]}{kernel[1]}-s{stride[0]}{stride[1]}-p{padding[0]}{padding[1]}"

        def max_forward(rng, dtype, kernel=kernel, stride=stride, padding=padding):
            return (pool_input(rng, dtype), kernel, stride, padding), {}

        def max_backward(rng, dtype, kernel=kernel, stride=stride, padding=padding):
            x = pool_input(rng, dtype)
            y, argmax = reference.max_pool2d_forward(x, kernel, stride, padding)
            gy = rng.standard_normal(y.shape).astype(dtype)
            return (gy, argmax, x.shape, kernel, stride, padding), {}

        def avg_forward(rng, dtype, kernel=kernel, stride=stride, padding=padding):
            return (rng.standard_normal((2, 3, 7, 6)).astype(dtype), kernel, stride, padding), {}

        def avg_backward(rng, dtype, kernel=kernel, stride=stride, padding=padding):
            x = rng.standard_normal((2, 3, 7, 6)).astype(dtype)
            y = reference.avg_pool2d_forward(x, kernel, stride, padding)
            return (rng.standard_normal(y.shape).astype(dtype), x.shape, kernel, stride,
                    padding), {}
        cases += [(f"max_pool2d_forward-{tag}", "max_pool2d_forward", max_forward),
                  (f"max_pool2d_backward-{tag}", "max_pool2d_backward", max_backward),
                  (f"avg_pool2d_forward-{tag}", "avg_pool2d_forward", avg_forward),
                  (f"avg_pool2d_backward-{tag}", "avg_pool2d_backward", avg_backward)]
    return cases


CASES = shared_cases()


def test_interface_is_the_reference():
    """Every interface kernel exists in the reference; signature() is the reference's."""
    for name in interface.KERNELS:
        assert interface.signature(name) == inspect.signature(getattr(reference, name))
    assert set(interface.HOT_KERNELS) <= set(interface.KERNELS)
    with pytest.raises(KeyError, match="no kernel named"):
        interface.signature("conv3d_forward")


def test_every_hot_case_is_covered():
    assert {name for _, name, _ in CASES} == set(interface.HOT_KERNELS)


def test_table_has_every_kernel_with_the_interface_signature(device):
    table = mg.Device(device).kernels
    assert set(table.functions) == set(interface.KERNELS)
    assert set(table.sources) == set(interface.KERNELS)
    for name in interface.KERNELS:
        fn = getattr(table, name)
        assert fn is table.functions[name]
        got = inspect.signature(fn)
        assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == \
            [(p.name, p.kind, p.default) for p in interface.signature(name).parameters.values()], name


def test_sources_are_true_by_construction(device):
    """A kernel reported as "reference" is the reference function, and one reported otherwise
    is not: what backend_info() says is what runs."""
    table = mg.Device(device).kernels
    for name, source in table.sources.items():
        is_reference = table.functions[name] is getattr(reference, name)
        assert is_reference == (source == interface.REFERENCE_SOURCE), (name, source)
    key = "cpu" if device == "cpu" else "cuda"
    assert mg.backend_info()[key] == table.kernel_sources()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_kernel_matches_reference(device, case, dtype):
    _, name, build = case
    args, kwargs = build(np.random.default_rng(0), dtype)
    expected = getattr(reference, name)(*args, **kwargs)
    got = getattr(mg.Device(device).kernels, name)(*on(device, *args), **kwargs)
    expected = expected if isinstance(expected, tuple) else (expected,)
    got = got if isinstance(got, tuple) else (got,)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        g = to_host(g)
        assert g.shape == e.shape and g.dtype == e.dtype, (name, g.shape, g.dtype)
        if e.dtype.kind == "i":
            np.testing.assert_array_equal(g, e)  # max pooling's argmax
        else:
            np.testing.assert_allclose(g, e, **TOL[dtype])


def test_scatter_add_accumulates_repeated_indices(device):
    y = on(device, np.zeros((3, 2)))[0]
    index, values = on(device, np.array([0, 2, 0, 0]), np.arange(8.0).reshape(4, 2))
    mg.Device(device).kernels.scatter_add(y, (index,), values)
    np.testing.assert_array_equal(to_host(y), [[0 + 4 + 6, 1 + 5 + 7], [0, 0], [2, 3]])


def test_kernel_checks_arguments_on_every_device(device):
    """Bad shapes are refused with the op's name, on every backend (not a crash)."""
    kernels = mg.Device(device).kernels
    a, b = on(device, np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ValueError, match="matmul"):
        kernels.matmul(a, b, trans_a=False, trans_b=False)
    x, w = on(device, np.ones((1, 2, 4, 4)), np.ones((3, 5, 2, 2)))
    with pytest.raises(ValueError, match="conv2d_forward"):
        kernels.conv2d_forward(x, w, None, (1, 1), (0, 0))


def test_build_table_fills_in_the_reference_and_checks_signatures():
    def matmul(a, b, *, trans_a=False, trans_b=False):
        return "ours"

    table = interface.build_table("test", {"matmul": matmul}, source="ours")
    assert table.matmul is matmul and table.sources["matmul"] == "ours"
    assert table.conv2d_forward is reference.conv2d_forward
    assert table.kernel_sources()["conv2d_forward"] == "reference"
    assert set(table.kernel_sources()) == set(interface.HOT_KERNELS)
    with pytest.raises(AttributeError):
        table.matmul = None  # built once, never patched
    with pytest.raises(TypeError, match="does not match the interface"):
        interface.build_table("test", {"matmul": lambda a, b, trans_a, trans_b: None}, "ours")
    with pytest.raises(TypeError, match="not in the kernel interface"):
        interface.build_table("test", {"conv3d": matmul}, "ours")


def test_cpu_module_names_are_the_table():
    for name in interface.KERNELS:
        assert getattr(cpu, name) is getattr(cpu.KERNELS, name)
    assert cpu.kernel_sources() == cpu.KERNELS.kernel_sources()

"""The Tensor surface of API.md: factories, dtype inference, seeding, attributes, conversion,
repr, operators with Python scalars and numpy arrays, comparisons, from_numpy, Device."""

import numpy as np
import pytest

import minigrad as mg

# ---------------------------------------------------------------------------- factories


@pytest.mark.parametrize("factory", [mg.zeros, mg.ones, mg.empty, mg.rand, mg.randn])
def test_shape_factories(factory):
    a = factory(2, 3)
    b = factory((2, 3))
    assert a.shape == b.shape == (2, 3)
    assert a.dtype == mg.float32 and a.device == "cpu" and not a.requires_grad
    c = factory(4, dtype=mg.float64, device="cpu", requires_grad=True)
    assert c.dtype == mg.float64 and c.requires_grad and c.is_leaf
    assert factory(0, 3).shape == (0, 3)


def test_factory_values():
    assert mg.zeros(2).tolist() == [0.0, 0.0]
    assert mg.ones(2, dtype=mg.int64).tolist() == [1, 1]
    assert mg.full((2, 2), 7.0).tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert mg.eye(3).numpy().tolist() == np.eye(3).tolist()
    assert mg.eye(2, 3).shape == (2, 3)
    assert mg.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert mg.arange(2, 8, 3).tolist() == [2, 5]
    np.testing.assert_allclose(mg.arange(0.0, 1.0, 0.25).numpy(), [0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(mg.linspace(0, 1, 5).numpy(), np.linspace(0, 1, 5))
    r = mg.rand(1000)
    assert 0.0 <= r.min().item() and r.max().item() < 1.0
    i = mg.randint(3, 7, (200,))
    assert i.dtype == mg.int64 and set(i.tolist()) <= {3, 4, 5, 6}
    assert mg.randint(5, (3,)).shape == (3,)


def test_like_factories():
    x = mg.tensor([[1.0, 2.0]], dtype=mg.float64)
    for f in (mg.zeros_like, mg.ones_like, mg.randn_like, mg.empty_like):
        y = f(x)
        assert y.shape == (1, 2) and y.dtype == mg.float64 and y.device == "cpu"
    assert mg.full_like(x, 3.0).tolist() == [[3.0, 3.0]]
    assert mg.zeros_like(x, dtype=mg.float32).dtype == mg.float32
    assert mg.ones_like(x, requires_grad=True).requires_grad


def test_factory_errors():
    with pytest.raises(ValueError):
        mg.zeros(-1)
    with pytest.raises(TypeError):
        mg.zeros(2.5)
    with pytest.raises(RuntimeError, match="floating point"):
        mg.zeros(2, dtype=mg.int64, requires_grad=True)
    with pytest.raises(ValueError):
        mg.arange(0, 5, 0)
    with pytest.raises(ValueError):
        mg.randint(5, 5, (2,))


# ---------------------------------------------------------------------------- dtype inference


@pytest.mark.parametrize("data, dtype", [
    ([1.0, 2.0], mg.float32),
    (2.5, mg.float32),
    ([1, 2], mg.int64),
    (3, mg.int64),
    ([True, False], mg.bool),
    ([1, 2.5], mg.float32),
    (np.zeros(2), mg.float64),
    (np.zeros(2, np.float32), mg.float32),
    (np.arange(3), mg.int64),
    (np.float64(1.5), mg.float64),
])
def test_dtype_inference(data, dtype):
    assert mg.tensor(data).dtype == dtype


def test_dtype_inference_matches_torch():
    torch = pytest.importorskip("torch")
    cases = [[1.0, 2.0], [1, 2], [True], 2.5, 7, np.zeros(2), np.zeros(2, np.float32),
             np.arange(2)]
    for data in cases:
        expected = str(torch.tensor(data).dtype).replace("torch.", "")
        assert str(mg.tensor(data).dtype) == expected, data
    assert str(mg.arange(5).dtype) == str(torch.arange(5).dtype).replace("torch.", "")
    assert str(mg.arange(0.0, 2.0).dtype) == str(torch.arange(0.0, 2.0).dtype).replace("torch.", "")
    assert str(mg.full((1,), 3).dtype) == str(torch.full((1,), 3).dtype).replace("torch.", "")


def test_explicit_dtype_and_copy_semantics():
    a = np.array([1.0, 2.0])
    t = mg.tensor(a, dtype=mg.float32)
    assert t.dtype == mg.float32
    t2 = mg.tensor(a)
    a[0] = 100.0
    assert t2.tolist() == [1.0, 2.0]  # mg.tensor copies
    assert mg.tensor([1, 2], dtype=np.float64).dtype == mg.float64
    assert mg.Tensor([1.0], requires_grad=True).requires_grad
    with pytest.raises(TypeError):
        mg.tensor("abc")
    with pytest.raises(TypeError):
        mg.tensor([1.0], dtype="complex128")


def test_manual_seed_reproducibility():
    def draw():
        return (mg.rand(4).tolist(), mg.randn(2, 2).tolist(), mg.randint(0, 100, (5,)).tolist(),
                mg.randn_like(mg.zeros(3)).tolist(), mg.zeros(3).normal_().tolist())

    mg.manual_seed(123)
    first = draw()
    mg.manual_seed(123)
    second = draw()
    mg.manual_seed(124)
    third = draw()
    assert first == second
    assert first != third


# ---------------------------------------------------------------------------- attributes


def test_attributes():
    x = mg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and isinstance(x.shape, tuple)
    assert x.ndim == 2 and x.dim() == 2
    assert x.dtype == mg.float32 == np.float32
    assert x.device == "cpu" and str(x.device) == "cpu" and isinstance(x.device, mg.Device)
    assert x.grad is None and not x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x.T.shape == (3, 2) and x.T.tolist() == [[1.0, 4.0], [2.0, 5.0], [3.0, 6.0]]
    assert x.size() == (2, 3) and x.size(1) == 3 and x.size(-2) == 2
    with pytest.raises(IndexError):
        x.size(2)
    assert x.numel() == 6 and len(x) == 2
    with pytest.raises(TypeError):
        len(mg.tensor(1.0))
    assert mg.tensor(1.0).shape == () and mg.tensor(1.0).numel() == 1


# ---------------------------------------------------------------------------- conversion


def test_numpy_shares_memory_and_refuses_requires_grad():
    x = mg.tensor([1.0, 2.0])
    arr = x.numpy()
    assert isinstance(arr, np.ndarray)
    arr[0] = 5.0
    assert x.tolist() == [5.0, 2.0]
    y = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        y.numpy()
    with pytest.raises(RuntimeError):
        np.asarray(y)
    assert y.detach().numpy().tolist() == [1.0]


def test_item_tolist_array_and_python_numbers():
    assert mg.tensor([2.5]).item() == 2.5 and isinstance(mg.tensor([2.5]).item(), float)
    assert mg.tensor(3).item() == 3 and isinstance(mg.tensor(3).item(), int)
    assert isinstance(mg.tensor([True]).item(), bool)
    with pytest.raises(RuntimeError):
        mg.tensor([1.0, 2.0]).item()
    assert mg.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert mg.tensor(1.5).tolist() == 1.5
    a = np.asarray(mg.tensor([1.0, 2.0]))
    assert a.dtype == np.float32 and a.tolist() == [1.0, 2.0]
    assert np.asarray(mg.tensor([1.0]), dtype=np.float64).dtype == np.float64
    assert float(mg.tensor([2.5])) == 2.5 and int(mg.tensor(7)) == 7
    assert [0, 10, 20][mg.tensor(1)] == 10  # __index__ on int tensors
    assert bool(mg.tensor([1.0])) and not bool(mg.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(mg.tensor([1.0, 2.0]))


def test_to_float_double_and_dtype_conversion():
    x = mg.tensor([1.5, 2.5])
    assert x.to(mg.float64).dtype == mg.float64
    assert x.double().dtype == mg.float64 and x.double().float().dtype == mg.float32
    assert x.to(dtype=np.float64).dtype == mg.float64
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to(mg.float32) is x
    assert x.to(mg.int64).tolist() == [1, 2]
    assert x.to(mg.tensor([1], dtype=mg.float64)).dtype == mg.float64
    # Casting a tensor that requires grad to another float dtype is differentiable.
    w = mg.tensor([1.0, 2.0], dtype=mg.float64, requires_grad=True)
    (w.float() * 3).sum().backward()
    assert w.grad.dtype == mg.float64 and w.grad.tolist() == [3.0, 3.0]
    assert not w.to(mg.int64).requires_grad
    with pytest.raises(TypeError):
        x.to(mg.float64, bogus=1)


def test_clone_copies_and_is_differentiable():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c._data, x._data)
    assert c.grad_fn is not None
    (c * 2).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]
    d = x.detach().clone()
    d.add_(1)
    assert x.tolist() == [1.0, 2.0]


def test_repr_shows_values_dtype_device_and_grad_fn():
    x = mg.tensor([1.0, 2.5], requires_grad=True)
    r = repr(x)
    assert r.startswith("tensor([1") and "2.5" in r
    assert "dtype=float32" in r and "device='cpu'" in r and "requires_grad=True" in r
    r2 = repr(x * 2)
    assert "grad_fn=<MulBackward>" in r2 and "5." in r2
    r3 = repr(mg.tensor([1, 2]))
    assert "[1, 2]" in r3 and "int64" in r3 and "grad_fn" not in r3
    big = repr(mg.zeros(10000))
    assert "..." in big and len(big) < 500
    assert "float64" in str(mg.tensor(np.zeros(2)))


# ---------------------------------------------------------------------------- operators


def test_operators_with_python_scalars_both_sides():
    x = mg.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose((x + 2).numpy(), [3, 4, 6])
    np.testing.assert_allclose((2 + x).numpy(), [3, 4, 6])
    np.testing.assert_allclose((x - 2).numpy(), [-1, 0, 2])
    np.testing.assert_allclose((2 - x).numpy(), [1, 0, -2])
    np.testing.assert_allclose((x * 3).numpy(), [3, 6, 12])
    np.testing.assert_allclose((3 * x).numpy(), [3, 6, 12])
    np.testing.assert_allclose((x / 2).numpy(), [0.5, 1, 2])
    np.testing.assert_allclose((2 / x).numpy(), [2, 1, 0.5])
    np.testing.assert_allclose((x ** 2).numpy(), [1, 4, 16])
    np.testing.assert_allclose((2 ** x).numpy(), [2, 4, 16])
    np.testing.assert_allclose((-x).numpy(), [-1, -2, -4])
    np.testing.assert_allclose(abs(-x).numpy(), [1, 2, 4])
    for result in (x + 2, 2 - x, 3 * x, 2 / x, x ** 2, 2 ** x):
        assert isinstance(result, mg.Tensor) and result.dtype == mg.float32


def test_operators_with_numpy_arrays_both_sides():
    x = mg.tensor([1.0, 2.0])
    a = np.array([10.0, 20.0])  # float64 (dimensioned) promotes float32, as torch
    for result, expected in [
        (x + a, [11, 22]), (a + x, [11, 22]), (a - x, [9, 18]), (x - a, [-9, -18]),
        (a * x, [10, 40]), (a / x, [10, 10]), (x / a, [0.1, 0.1]),
    ]:
        assert isinstance(result, mg.Tensor), type(result)
        assert result.dtype == mg.float64
        np.testing.assert_allclose(result.numpy(), expected)
    m = np.eye(2, dtype=np.float32)
    assert isinstance(m @ x, mg.Tensor) and (m @ x).tolist() == [1.0, 2.0]
    assert isinstance(x @ m, mg.Tensor)
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    (a * w).sum().backward()  # reflected op records a graph
    assert w.grad.tolist() == [10.0, 20.0]


def test_operators_match_torch_including_dtypes():
    torch = pytest.importorskip("torch")
    xn = np.array([1.5, -2.0, 3.0], dtype=np.float32)
    x, xt = mg.tensor(xn), torch.tensor(xn)
    ops = [lambda t: t + 1, lambda t: 1 - t, lambda t: t * 2.5, lambda t: 3 / t, lambda t: t ** 2,
           lambda t: -t, lambda t: t * t, lambda t: abs(t)]
    for op in ops:
        got, want = op(x), op(xt)
        assert str(got.dtype) == str(want.dtype).replace("torch.", "")
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)


def test_comparisons_give_bool_tensors_without_grad():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result, expected in [
        (x > 2, [False, False, True]), (x >= 2, [False, True, True]), (x < 2, [True, False, False]),
        (x <= 2, [True, True, False]), (x == 2, [False, True, False]), (x != 2, [True, False, True]),
        (2 < x, [False, False, True]), (x == mg.tensor([1.0, 0.0, 3.0]), [True, False, True]),
    ]:
        assert result.dtype == mg.bool and not result.requires_grad and result.grad_fn is None
        assert result.tolist() == expected
    assert (x > np.array([0.0, 5.0, 0.0])).tolist() == [True, False, True]


def test_tensor_is_hashable_and_usable_as_dict_key():
    x, y = mg.tensor([1.0]), mg.tensor([1.0])
    d = {x: "x", y: "y"}
    assert d[x] == "x" and d[y] == "y"


def test_from_numpy_shares_memory():
    a = np.arange(4.0)
    t = mg.from_numpy(a)
    assert t.dtype == mg.float64
    a[0] = 9.0
    assert t.tolist()[0] == 9.0
    t.numpy()[1] = 7.0
    assert a[1] == 7.0
    with mg.no_grad():
        t.add_(1)
    assert a.tolist() == [10.0, 8.0, 3.0, 4.0]
    with pytest.raises(TypeError):
        mg.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError):
        mg.from_numpy(np.array(["a"]))


def test_device_object():
    cpu = mg.Device("cpu")
    assert cpu == "cpu" and "cpu" == cpu and cpu == mg.Device("cpu") and cpu == mg.device("cpu")
    assert cpu != "cuda" and cpu != "cuda:0" and cpu != 3
    assert str(cpu) == "cpu" and cpu.type == "cpu"
    assert hash(cpu) == hash(mg.Device("cpu"))
    gpu = mg.Device("cuda")  # describing a device doesn't need a GPU
    assert gpu == "cuda:0" and str(gpu) == "cuda:0" and gpu.index == 0
    assert mg.Device("cuda:1") != gpu
    assert mg.Device(cpu) == cpu
    with pytest.raises(ValueError):
        mg.Device("tpu")
    with pytest.raises(ValueError):
        mg.Device("cuda:x")
    with pytest.raises(TypeError):
        mg.Device(0)
    assert mg.zeros(1, device=cpu).device == "cpu"
    assert mg.zeros(1, device="cpu").device == cpu

"""PyTorch habits that code ported from tutorials relies on (issue 11, part 2), each checked
against PyTorch itself: max/min(dim) named tuples, amax/amin, __format__, view() of a
non-contiguous tensor, .grad of a non-leaf, dim 0/-1 of 0-d tensors, size(0) of a 0-d tensor,
mixed int and advanced indexing, squeeze(dim) out of range, edge gradients (pow at a zero
base, var/std over one element), integer max_pool2d, TensorDataset over numpy arrays,
argmax of an empty batch, dir(mg) / dir(F), logical vs bitwise ops."""

import warnings

import numpy as np
import pytest

import minigrad as mg
import minigrad.nn.functional as F

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(11)


def pair(array, requires_grad=False):
    return (mg.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def same(ours, theirs, **tol):
    theirs = theirs.detach().numpy() if isinstance(theirs, torch.Tensor) else np.asarray(theirs)
    got = ours.detach().numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    assert got.shape == theirs.shape, (got.shape, theirs.shape)
    assert got.dtype == theirs.dtype, (got.dtype, theirs.dtype)
    np.testing.assert_allclose(got, theirs, **tol) if got.dtype.kind == "f" else \
        np.testing.assert_array_equal(got, theirs)


# ---------------------------------------------------------------------------- max / min


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_is_a_named_tuple_of_values_and_indices(name, dim, keepdim):
    a = RNG.permutation(12).reshape(3, 4).astype(np.float64)
    x, t = pair(a, requires_grad=True)
    ours, theirs = getattr(x, name)(dim, keepdim=keepdim), getattr(t, name)(dim, keepdim=keepdim)
    values, indices = ours  # unpacks like PyTorch's torch.return_types.max
    assert values is ours.values and indices is ours.indices and ours[0] is values
    same(values, theirs.values)
    same(indices, theirs.indices)
    same(getattr(mg, name)(x, dim=dim, keepdim=keepdim).indices, theirs.indices)
    g = RNG.standard_normal(theirs.values.shape)
    values.backward(mg.tensor(g))
    theirs.values.backward(torch.tensor(g))
    same(x.grad, t.grad)


def test_the_classic_accuracy_line_gets_class_indices():
    logits = RNG.standard_normal((32, 10))
    labels = RNG.integers(0, 10, 32)
    x, t = pair(logits)
    _, predicted = x.max(1)
    _, t_predicted = t.max(1)
    same(predicted, t_predicted)
    assert predicted.dtype == mg.int64
    acc = (predicted == mg.tensor(labels)).sum().item()
    assert acc == (t_predicted == torch.tensor(labels)).sum().item()
    _, two = mg.tensor(logits[:2]).max(1)  # batch 2: indices, not float maxima
    same(two, t[:2].max(1).indices)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_without_dim_is_0d(name):
    x, t = pair(RNG.standard_normal((3, 4)))
    ours = getattr(x, name)()
    assert isinstance(ours, mg.Tensor) and ours.shape == ()
    same(ours, getattr(t, name)())


@pytest.mark.parametrize("name", ["amax", "amin"])
@pytest.mark.parametrize("dim", [0, -1, (0, 2), (), None])
def test_amax_amin_give_values_only(name, dim):
    a = RNG.standard_normal((2, 3, 4))
    a[0, 0, :2] = a[0, 0, 2]  # ties: the gradient is split evenly, as PyTorch
    x, t = pair(a, requires_grad=True)
    kwargs = {} if dim is None else {"dim": dim}
    ours, theirs = getattr(mg, name)(x, **kwargs), getattr(torch, name)(t, **kwargs)
    assert isinstance(ours, mg.Tensor)
    same(ours, theirs)
    g = RNG.standard_normal(theirs.shape)
    ours.backward(mg.tensor(g))
    theirs.backward(torch.tensor(g))
    same(x.grad, t.grad)
    same(getattr(x, name)(**kwargs, keepdim=True), getattr(t, name)(**kwargs, keepdim=True))


def test_max_of_several_dims_points_to_amax():
    with pytest.raises(TypeError, match="amax"):
        mg.zeros(2, 3).max(dim=(0, 1))
    with pytest.raises(TypeError):
        torch.zeros(2, 3).max(dim=(0, 1))


# ---------------------------------------------------------------------------- formatting, views


@pytest.mark.parametrize("spec", [".4f", "", ">10.2e", ".3g"])
def test_format_of_a_0d_tensor(spec):
    x, t = pair(np.float64(0.123456789))
    assert format(x, spec) == format(t, spec)
    assert f"{mg.tensor(3):d}" == f"{torch.tensor(3):d}"


def test_format_of_a_1d_tensor_with_a_spec_raises_like_torch():
    with pytest.raises(TypeError):
        format(torch.tensor([1.0, 2.0]), ".2f")
    with pytest.raises(TypeError):
        format(mg.tensor([1.0, 2.0]), ".2f")
    assert f"{mg.tensor([1.0, 2.0])}" == str(mg.tensor([1.0, 2.0]))


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.arange(12.0).reshape(3, 4).T, (12,)),
    (lambda m: m.arange(24.0).reshape(2, 3, 4).permute(0, 2, 1), (2, 12)),
    (lambda m: m.arange(24.0).reshape(4, 6)[:, :3], (12,)),
])
def test_view_of_a_non_contiguous_tensor_raises_pointing_to_reshape(make, shape):
    with pytest.raises(RuntimeError):
        make(torch).view(*shape)
    x = make(mg)
    assert not x.is_contiguous()
    with pytest.raises(RuntimeError, match=r"reshape"):
        x.view(*shape)
    same(x.reshape(*shape), make(torch).reshape(*shape))
    same(x.contiguous().view(*shape), make(torch).contiguous().view(*shape))
    assert x.contiguous().is_contiguous()


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.arange(24.0).reshape(2, 3, 4).permute(1, 0, 2), (3, 2, 2, 2)),  # splits a dim
    (lambda m: m.arange(12.0).reshape(3, 4).T, (2, 2, 3)),
    (lambda m: m.arange(6.0).reshape(1, 6).expand(4, 6), (4, 2, 3)),
    (lambda m: m.arange(24.0).reshape(4, 6)[:, ::2], (12,)),  # strides (6, 2): still one run
])
def test_view_of_a_compatible_non_contiguous_layout_shares_memory(make, shape):
    theirs = make(torch).view(*shape)
    x = make(mg)
    y = x.view(*shape)
    same(y, theirs)
    assert np.shares_memory(y.numpy(), x.numpy())


def test_writes_through_a_view_reach_the_base():
    x = mg.zeros(2, 6)
    v = x.view(3, 4)
    v[1, 1] = 5.0
    assert x[0, 5].item() == 5.0


# ---------------------------------------------------------------------------- .grad of a non-leaf


def test_grad_of_a_non_leaf_warns_as_pytorch():
    for lib in (torch, mg):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.sum().backward()
        with pytest.warns(UserWarning, match="retain_grad"):
            assert y.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        y.retain_grad()
        assert y.retains_grad and not x.retains_grad
        y.sum().backward()
        same(y.grad, np.ones(2, np.float32))
        same(x.grad, np.full(2, 2.0, np.float32))  # a leaf: no warning


# ---------------------------------------------------------------------------- 0-d tensors

ZERO_D_OPS = [
    ("sum", {}), ("mean", {}), ("var", {}), ("std", {}), ("logsumexp", {}), ("softmax", {}),
    ("log_softmax", {}), ("argmax", {}), ("argmin", {}), ("amax", {}), ("amin", {}),
    ("sum", {"keepdim": True}), ("mean", {"keepdim": True}), ("argmax", {"keepdim": True}),
]


@pytest.mark.parametrize("dim", [0, -1])
@pytest.mark.parametrize("name,kwargs", ZERO_D_OPS, ids=lambda v: v if isinstance(v, str) else
                         ",".join(v) or "-")
def test_reductions_over_dim_0_or_minus_1_of_a_0d_tensor(name, kwargs, dim):
    x, t = pair(np.float64(1.5), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about var's degrees of freedom
        theirs = getattr(torch, name)(t, dim, **kwargs)
    ours = getattr(mg, name)(x, dim, **kwargs)
    same(ours, theirs)
    if theirs.dtype.is_floating_point:
        ours.backward()
        theirs.backward()
        same(x.grad, t.grad)


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("dim", [0, -1])
def test_max_over_dim_of_a_0d_tensor(name, dim):
    x, t = pair(np.float64(-2.5))
    ours, theirs = getattr(x, name)(dim), getattr(t, name)(dim)
    same(ours.values, theirs.values)
    same(ours.indices, theirs.indices)


@pytest.mark.parametrize("dim", [1, -2])
def test_dim_out_of_range_of_a_0d_tensor_raises_index_error(dim):
    with pytest.raises(IndexError):
        torch.tensor(1.0).sum(dim)
    with pytest.raises(IndexError):
        mg.tensor(1.0).sum(dim)


def test_size_0_of_a_0d_tensor_raises_index_error():
    with pytest.raises(IndexError):
        torch.tensor(1.0).size(0)
    with pytest.raises(IndexError, match="no dimensions"):
        mg.tensor(1.0).size(0)
    assert mg.tensor(1.0).size() == ()


# ---------------------------------------------------------------------------- indexing, squeeze

KEYS = [
    (0, slice(None), [1, 2]),
    (slice(None), 1, [0, 3]),
    ([0, 1], 0, [1, 2]),
    (Ellipsis, 2, [3, 0, 3]),
    (1, None, slice(None), [2, 2]),
    (0, [[0, 1], [2, 0]], slice(1, 3)),
    (1, slice(None), np.array([True, False, True, True])),
]


@pytest.mark.parametrize("key", KEYS, ids=str)
def test_ints_mixed_with_advanced_indices_follow_pytorch(key):
    a = RNG.standard_normal((2, 3, 4))
    x, t = pair(a, requires_grad=True)
    tkey = tuple(torch.tensor(k) if isinstance(k, (list, np.ndarray)) else k for k in key)
    ours, theirs = x[key], t[tkey]
    same(ours, theirs)
    g = RNG.standard_normal(theirs.shape)
    ours.backward(mg.tensor(g))
    theirs.backward(torch.tensor(g))
    same(x.grad, t.grad)
    # x[key] = value, too
    x2, t2 = pair(a.copy())
    v = RNG.standard_normal(theirs.shape)
    x2[key] = mg.tensor(v)
    t2[tkey] = torch.tensor(v)
    same(x2, t2)


def test_the_issue_example_shape():
    assert mg.zeros(5, 6, 7)[0, :, [1, 2]].shape == (6, 2) == tuple(torch.zeros(5, 6, 7)[0, :, [1, 2]].shape)


@pytest.mark.parametrize("shape,dim", [((2, 1, 3), 3), ((2, 1, 3), -4), ((), 1), ((), -2)])
def test_squeeze_dim_out_of_range_raises_index_error(shape, dim):
    with pytest.raises(IndexError):
        torch.zeros(shape).squeeze(dim)
    with pytest.raises(IndexError):
        mg.zeros(*shape).squeeze(dim)


@pytest.mark.parametrize("dim", [0, -1])
def test_squeeze_of_a_0d_tensor(dim):
    same(mg.tensor(2.0).squeeze(dim), torch.tensor(2.0).squeeze(dim))


# ---------------------------------------------------------------------------- edge gradients


@pytest.mark.parametrize("exponent", [2.0, 0.5, 0.0, 1.0, 3])
def test_pow_at_a_zero_base_with_a_constant_exponent(exponent):
    x, t = pair(np.array([0.0, 0.0, 1.5]), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning from the 0 * inf on the way
        (x ** exponent).sum().backward()
    (t ** exponent).sum().backward()
    same(x.grad, t.grad)


@pytest.mark.parametrize("exponent", [2.0, 3.0, 1.0])
def test_second_derivative_of_pow_at_a_zero_base(exponent):
    x, t = pair(np.array([0.0, 1.5]), requires_grad=True)
    (g,) = mg.grad((x ** exponent).sum(), x, create_graph=True)
    (tg,) = torch.autograd.grad((t ** exponent).sum(), t, create_graph=True)
    g.sum().backward()
    tg.sum().backward()
    same(x.grad, t.grad)


def test_pow_with_a_tensor_exponent_at_a_zero_base():
    a, ta = pair(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    b, tb = pair(np.array([2.0, 0.0, 0.5]), requires_grad=True)
    (a ** b).sum().backward()
    (ta ** tb).sum().backward()
    same(a.grad, ta.grad)
    same(b.grad, tb.grad)


@pytest.mark.parametrize("name", ["var", "std"])
@pytest.mark.parametrize("shape,dim", [((3, 1), 1), ((1, 4), 0), ((1,), 0), ((2, 1, 3), (1,))])
def test_var_std_over_one_element_is_nan_as_pytorch(name, shape, dim):
    x, t = pair(RNG.standard_normal(shape), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = getattr(t, name)(dim)
        theirs.sum().backward()
    ours = getattr(x, name)(dim)
    same(ours, theirs)
    ours.sum().backward()
    same(x.grad, t.grad)


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint8"])
@pytest.mark.parametrize("kernel,stride,padding", [(2, None, 0), (3, 1, 1), ((2, 3), (1, 2), (1, 0))])
def test_max_pool2d_of_integer_tensors_forward(dtype, kernel, stride, padding):
    a = RNG.integers(0 if dtype == "uint8" else -50, 100, (2, 3, 5, 6)).astype(dtype)
    x, t = mg.from_numpy(a), torch.from_numpy(a)
    ours = F.max_pool2d(x, kernel, stride, padding)
    same(ours, torch.nn.functional.max_pool2d(t, kernel, stride, padding))
    assert not ours.requires_grad
    same(mg.nn.MaxPool2d(kernel, stride, padding)(x), torch.nn.MaxPool2d(kernel, stride, padding)(t))


# ---------------------------------------------------------------------------- data, argmax, dir


def test_tensor_dataset_over_numpy_arrays_yields_tensors():
    images = RNG.standard_normal((5, 1, 2, 2)).astype(np.float32)
    labels = np.arange(5)
    ds = mg.data.TensorDataset(images, labels)
    x, y = ds[3]
    assert isinstance(x, mg.Tensor) and isinstance(y, mg.Tensor)
    tds = torch.utils.data.TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    tx, ty = tds[3]
    same(x, tx)
    same(y, ty)
    for (bx, by), (tbx, tby) in zip(mg.data.DataLoader(ds, batch_size=2),
                                    torch.utils.data.DataLoader(tds, batch_size=2)):
        same(bx, tbx)
        same(by, tby)


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_over_a_nonempty_dim_of_an_empty_batch(name, keepdim):
    x, t = pair(np.zeros((0, 3)))
    same(getattr(x, name)(dim=1, keepdim=keepdim), getattr(t, name)(dim=1, keepdim=keepdim))
    for fn in (lambda: getattr(t, name)(dim=0), lambda: getattr(t, name)()):
        with pytest.raises((IndexError, RuntimeError)):
            fn()
    for fn in (lambda: getattr(x, name)(dim=0), lambda: getattr(x, name)()):
        with pytest.raises(ValueError, match=name):
            fn()


def test_max_dim_of_an_empty_batch():
    x, t = pair(np.zeros((0, 3)))
    ours, theirs = x.max(dim=1), t.max(dim=1)
    same(ours.values, theirs.values)
    same(ours.indices, theirs.indices)


def test_dir_of_mg_lists_the_subpackages_and_save_load():
    names = dir(mg)
    for name in ("nn", "optim", "data", "viz", "save", "load", "tensor", "exp", "max"):
        assert name in names
        assert hasattr(mg, name)
    for name in ("nn", "optim", "save", "load"):  # (torch's data loaders are torch.utils.data)
        assert name in dir(torch)


def test_dir_of_F_hides_internals():
    names = dir(F)
    for internal in ("np", "numbers", "warnings", "MatMul", "Tensor", "ops", "fused", "no_grad"):
        assert internal not in names
    assert [n for n in names if n.startswith("_")] == []
    for name in ("relu", "conv2d", "cross_entropy", "gelu", "pad", "max_pool2d"):
        assert name in names and name in dir(torch.nn.functional)
    assert all(callable(getattr(F, n)) for n in names)


# ---------------------------------------------------------------------------- logical vs bitwise


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
@pytest.mark.parametrize("a,b", [([1, 2, 0, -3], [2, 0, 0, 5]), ([1.5, 0.0, -0.0, 2.0], [0.0, 3.0, 0.0, 1.0]),
                                 ([True, False, True, False], [True, True, False, False])])
def test_logical_ops_are_logical_on_any_dtype(name, a, b):
    x, t = pair(a)
    y, u = pair(b)
    same(getattr(mg, name)(x, y), getattr(torch, name)(t, u))
    same(getattr(x, name)(y), getattr(t, name)(u))


@pytest.mark.parametrize("a", [[1, 2, 0, -3], [1.5, 0.0, -0.0, 2.0], [True, False, True, False]])
def test_logical_not_on_any_dtype(a):
    x, t = pair(a)
    same(mg.logical_not(x), torch.logical_not(t))
    same(x.logical_not(), t.logical_not())


def test_operators_stay_bitwise_as_pytorch():
    x, t = pair([1, 2, 12])
    y, u = pair([2, 2, 10])
    same(x & y, t & u)
    same(x | y, t | u)
    same(x ^ y, t ^ u)
    same(~x, ~t)
    m, tm = pair([True, False, True])
    same(m & True, tm & True)
    same(True | m, True | tm)
    same(~m, ~tm)
    with pytest.raises(TypeError):
        mg.tensor([1.0]) & mg.tensor([1.0])

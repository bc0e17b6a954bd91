"""Issue 11 part 3's tensor ops beyond what the registry checks (tests/test_gradcheck_ops.py,
test_torch_oracle.py, test_forward_numpy.py and test_cuda_device.py run their OpSpecs from
minigrad/testing/newops_specs.py): PyTorch's return types, integer dtypes, ties, NaN, edge
shapes, errors, second derivatives, random draws, and the ops that return Python values.
"""

import math

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

CUDA = pytest.mark.parametrize("device", ["cuda"], indirect=True)


def pair(array, requires_grad=False, dtype=None):
    """The same values as a minigrad and a torch tensor."""
    a = np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)
    return (mg.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


def same(ours, theirs):
    """Values, shape and dtype equal PyTorch's."""
    theirs = theirs.detach().numpy()
    got = ours.detach().cpu().numpy()
    assert got.shape == theirs.shape
    assert got.dtype == theirs.dtype, (got.dtype, theirs.dtype)
    rtol = 1e-6 if got.dtype == np.float32 else 1e-12  # float32: one rounding apart at most
    np.testing.assert_allclose(got, theirs, rtol=rtol, atol=0, equal_nan=True)


# ---------------------------------------------------------------------------- sort / topk


def test_sort_and_topk_return_named_tuples_as_torch():
    x, tx = pair([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]])
    result = x.sort(dim=1)
    values, indices = result
    assert type(result).__name__ == "sort" and result.values is values and result.indices is indices
    same(values, tx.sort(dim=1).values)
    same(indices, tx.sort(dim=1).indices)
    top = mg.topk(x, 2)
    assert type(top).__name__ == "topk"
    same(top.values, torch.topk(tx, 2).values)
    same(top[1], torch.topk(tx, 2).indices)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_of_ties_and_nan_matches_torch_stable_sort(descending):
    data = [2.0, math.nan, 1.0, 2.0, -math.inf, 1.0, math.nan, math.inf, 2.0]
    x, tx = pair(data)
    theirs = torch.sort(tx, descending=descending, stable=True)
    ours = mg.sort(x, descending=descending, stable=True)
    same(ours.values, theirs.values)
    same(ours.indices, theirs.indices)
    same(x.argsort(descending=descending), torch.argsort(tx, descending=descending, stable=True))


def test_sort_gradient_goes_back_to_where_each_value_came_from():
    x, tx = pair([[0.3, -1.0, 2.0, 0.1]], requires_grad=True)
    g = np.array([[1.0, 2.0, 3.0, 4.0]])
    x.sort(descending=True).values.backward(mg.tensor(g))
    tx.sort(descending=True).values.backward(torch.tensor(g))
    same(x.grad, tx.grad)


def test_sort_topk_of_0d_and_integer_tensors():
    x, tx = pair(3.5)
    same(x.sort().values, tx.sort().values)
    same(x.topk(1).indices, tx.topk(1).indices)
    i, ti = pair([3, 1, 2, 1])
    same(i.sort().values, ti.sort(stable=True).values)
    same(i.topk(2, largest=False).values, ti.topk(2, largest=False).values)


def test_topk_k_out_of_range_raises():
    with pytest.raises(ValueError, match="topk"):
        mg.topk(mg.zeros(3), 4)
    with pytest.raises(TypeError, match="topk"):
        mg.topk(mg.zeros(3), 1.5)


# ---------------------------------------------------------------------------- gather / scatter


def test_gather_repeated_indices_accumulate_gradients_as_torch():
    x, tx = pair(np.arange(12.0).reshape(3, 4), requires_grad=True)
    index = np.array([[0, 0, 3], [1, 1, 1], [2, 0, 2]])
    out = x.gather(1, mg.tensor(index))
    tout = tx.gather(1, torch.tensor(index))
    same(out, tout)
    g = np.arange(9.0).reshape(3, 3)
    out.backward(mg.tensor(g))
    tout.backward(torch.tensor(g))
    same(x.grad, tx.grad)


@pytest.mark.parametrize("bad", [[[3]], [[-1]]])
def test_index_out_of_range_is_both_index_and_runtime_error(bad):
    x = mg.zeros(2, 3)
    for call in (lambda: x.gather(1, mg.tensor(bad)),
                 lambda: x.index_select(1, mg.tensor(bad[0])),
                 lambda: x.scatter_add(1, mg.tensor(bad), mg.ones(1, 1))):
        with pytest.raises(IndexError, match="out of bounds"):
            call()
        with pytest.raises(RuntimeError):
            call()


def test_gather_and_scatter_argument_errors():
    x = mg.zeros(2, 3)
    with pytest.raises(TypeError, match="gather: index must be an integer"):
        x.gather(1, mg.tensor([[0.0]]))
    with pytest.raises(ValueError, match="as many dims"):
        x.gather(1, mg.tensor([0]))
    with pytest.raises(ValueError, match="larger than the input"):
        x.gather(1, mg.tensor([[0], [0], [0]]))
    with pytest.raises(TypeError, match="src dtype"):
        x.scatter_add(0, mg.tensor([[0]]), mg.ones(1, 1, dtype=mg.float64))
    with pytest.raises(ValueError, match="larger than src"):
        x.scatter_add(0, mg.tensor([[0, 1]]), mg.ones(1, 1))
    with pytest.raises(IndexError):
        x.gather(2, mg.tensor([[0]]))


def test_scatter_add_with_src_larger_than_index_uses_the_leading_block():
    x, tx = pair(np.zeros((3, 4)), requires_grad=True)
    src, tsrc = pair(np.arange(15.0).reshape(3, 5), requires_grad=True)
    index = np.array([[2, 0, 2, 1], [0, 0, 1, 2]])
    out = x.scatter_add(0, mg.tensor(index), src)
    same(out, tx.detach().scatter_add(0, torch.tensor(index), tsrc.detach()))
    g = np.arange(12.0).reshape(3, 4)
    out.backward(mg.tensor(g))
    np.testing.assert_array_equal(x.grad.numpy(), g)
    expected = np.zeros((3, 5))
    expected[:2, :4] = np.take_along_axis(g, index, 0)  # src's gradient: gy gathered at index
    np.testing.assert_array_equal(src.grad.numpy(), expected)


def test_index_select_0d_index_and_0d_input_as_torch():
    x, tx = pair(np.arange(6.0).reshape(2, 3))
    same(x.index_select(1, mg.tensor(2)), tx.index_select(1, torch.tensor(2)))
    s, ts = pair(5.0)
    same(mg.index_select(s, 0, mg.tensor([0])), torch.index_select(ts, 0, torch.tensor([0])))
    with pytest.raises(ValueError, match="1-D"):
        x.index_select(0, mg.tensor([[0]]))


def test_masked_fill_dtypes_broadcasting_and_value_tensor_as_torch():
    i, ti = pair([1, 2, 3])
    same(i.masked_fill(mg.tensor([True, False, True]), 2.7),
         ti.masked_fill(torch.tensor([True, False, True]), 2.7))
    x, tx = pair(np.zeros(3))
    mask = np.array([[True, False, True], [False, False, True]])
    same(x.masked_fill(mg.tensor(mask), 1.0), tx.masked_fill(torch.tensor(mask), 1.0))
    y, ty = pair(np.arange(6.0).reshape(2, 3), requires_grad=True)
    v, tv = pair(0.5, requires_grad=True)
    out, tout = y.masked_fill(mg.tensor(mask), v), ty.masked_fill(torch.tensor(mask), tv)
    g = np.arange(6.0).reshape(2, 3) + 1
    out.backward(mg.tensor(g))
    tout.backward(torch.tensor(g))
    same(y.grad, ty.grad)
    same(v.grad, tv.grad)
    with pytest.raises(TypeError, match="bool"):
        y.masked_fill(mg.tensor([1, 0, 1]), 0.0)
    with pytest.raises(ValueError, match="0-d"):
        y.masked_fill(mg.tensor(mask), mg.ones(2))
    with pytest.raises(ValueError, match="broadcast"):
        y.masked_fill(mg.tensor([True, False]), 0.0)


def test_in_place_masked_fill_and_scatter_add_as_torch():
    w, tw = pair(np.arange(6.0).reshape(2, 3), requires_grad=True)
    src, tsrc = pair(np.ones((1, 3)), requires_grad=True)
    mask = np.array([[True, False, False], [False, False, True]])
    index = np.array([[1, 0, 1]])
    y, ty = w * 2, tw * 2
    assert y.masked_fill_(mg.tensor(mask), -1.0) is y
    ty.masked_fill_(torch.tensor(mask), -1.0)
    y.scatter_add_(0, mg.tensor(index), src)
    ty.scatter_add_(0, torch.tensor(index), tsrc)
    same(y, ty)
    g = np.arange(6.0).reshape(2, 3)
    (y * y).backward(mg.tensor(g))
    (ty * ty).backward(torch.tensor(g))
    same(w.grad, tw.grad)
    same(src.grad, tsrc.grad)


# ---------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", ["square", "reciprocal", "floor", "ceil", "round", "sign",
                                  "log1p", "expm1", "erf", "rsqrt", "abs"])
def test_unary_integer_inputs_give_torch_dtypes(name):
    x, tx = pair([1, 4, 9])
    same(getattr(x, name)(), getattr(tx, name)())


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.float32])
def test_cumsum_dtypes_as_torch(dtype):
    x, tx = pair([1, 0, 1, 1], dtype=dtype)
    same(x.cumsum(0), tx.cumsum(0))
    same(mg.cumsum(x, 0, dtype=mg.float64), torch.cumsum(tx, 0, dtype=torch.float64))


def test_remainder_and_floor_divide_follow_python_signs_as_torch():
    a, ta = pair([5, -5, 7, -7, 0])
    b, tb = pair([3, 3, -2, -2, 4])
    same(a % b, ta % tb)
    same(a // b, ta // tb)
    same(7 % b, 7 % tb)
    same(7 // b, 7 // tb)
    same(a % 2.5, ta % 2.5)
    f, tf = pair([5.5, -5.5, 1.0])
    same(f % -2.0, tf % -2.0)
    same(f // 0.0, tf // 0.0)
    same(f % 0.0, tf % 0.0)
    same(mg.floor_divide(f, 2), torch.floor_divide(tf, 2))
    with pytest.raises(RuntimeError, match="division by zero"):
        a // mg.tensor([1, 0, 1, 1, 1])
    with pytest.raises(RuntimeError, match="division by zero"):
        a % 0


def test_floor_divide_records_no_gradient_and_remainder_does():
    x = mg.tensor([1.5, -2.5], requires_grad=True)
    assert not (x // 0.7).requires_grad
    assert (x % 0.7).requires_grad


def test_rounding_has_zero_gradient_as_torch():
    x, tx = pair([0.4, 1.6, -2.5], requires_grad=True)
    for name in ("floor", "ceil", "round"):
        x.grad = None
        tx.grad = None
        out, tout = getattr(x, name)(), getattr(tx, name)()
        assert out.requires_grad == tout.requires_grad
        (out * x).sum().backward()
        (tout * tx).sum().backward()
        same(x.grad, tx.grad)


def test_round_decimals_as_torch():
    x, tx = pair([1.2345, -0.125, 2.5, 1234.5])
    for d in (0, 1, 2, -1, -2):
        same(mg.round(x, decimals=d), torch.round(tx, decimals=d))


def test_nan_to_num_float32_defaults_and_integers_as_torch():
    x, tx = pair([math.nan, math.inf, -math.inf, 1.5], dtype=np.float32)
    same(x.nan_to_num(), tx.nan_to_num())
    same(mg.nan_to_num(x, nan=1.0, neginf=-2.0), torch.nan_to_num(tx, nan=1.0, neginf=-2.0))
    i, ti = pair([1, 2])
    same(i.nan_to_num(), ti.nan_to_num())


# ---------------------------------------------------------------------------- predicates


def test_allclose_isclose_as_torch():
    a, ta = pair([1.0, 2.0, math.nan, math.inf])
    b, tb = pair([1.0 + 1e-9, 2.1, math.nan, math.inf])
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.1}, {"atol": 0.2, "rtol": 0}):
        assert mg.allclose(a, b, **kw) is torch.allclose(ta, tb, **kw)
        same(mg.isclose(a, b, **kw), torch.isclose(ta, tb, **kw))
    assert a.allclose(a, equal_nan=True) is True
    assert mg.allclose(mg.ones(3), mg.ones(2, 3))
    with pytest.raises(ValueError, match="broadcast"):
        mg.allclose(mg.ones(3), mg.ones(2))
    with pytest.raises(ValueError, match="rtol"):
        mg.allclose(a, b, rtol=-1)


@pytest.mark.parametrize("name", ["any", "all"])
def test_any_all_as_torch(name):
    x, tx = pair([[0.0, 1.0, math.nan], [0.0, 0.0, 2.0]])
    same(getattr(x, name)(), getattr(tx, name)())
    same(getattr(x, name)(dim=1), getattr(tx, name)(dim=1))
    same(getattr(mg, name)(x, 0, keepdim=True), getattr(torch, name)(tx, 0, keepdim=True))
    same(getattr(x, name)(dim=(0, 1)), getattr(tx, name)(dim=(0, 1)))
    s, ts = pair(0.0)
    same(getattr(s, name)(dim=0), getattr(ts, name)(dim=0))
    e, te = pair(np.zeros((0, 3)))
    same(getattr(e, name)(dim=0), getattr(te, name)(dim=0))


# ---------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_share_the_gradient_among_ties_as_torch(name):
    x, tx = pair([[1.0, 3.0, 3.0], [-1.0, -1.0, -1.0]], requires_grad=True)
    for dims in (1, (0, 1), None, ()):
        x.grad = tx.grad = None
        kwargs = {} if dims is None else {"dim": dims}
        out, tout = getattr(x, name)(**kwargs), getattr(tx, name)(**kwargs)
        same(out, tout)
        out.sum().backward()
        tout.sum().backward()
        same(x.grad, tx.grad)
    s, ts = pair(2.0)
    same(getattr(s, name)(0), getattr(ts, name)(0))
    with pytest.raises(ValueError, match="empty"):
        getattr(mg.zeros(0, 2), name)(0)


@pytest.mark.parametrize("p", [2, 1, math.inf, -math.inf, 3, 0, "fro", 0.5])
def test_norm_values_and_gradient_at_zero_as_torch(p):
    x, tx = pair([[0.0, 0.0], [3.0, -4.0]], requires_grad=True)
    out, tout = mg.norm(x, p, dim=1), torch.norm(tx, p, dim=1)
    same(out, tout)
    out.sum().backward()
    tout.sum().backward()
    if p == 0:  # a step function: torch passes no gradient, minigrad a zero one
        assert tx.grad is None and not x.grad.numpy().any()
        return
    same(x.grad, tx.grad)


def test_norm_errors():
    with pytest.raises(TypeError, match="floating"):
        mg.tensor([1, 2]).norm()
    with pytest.raises(ValueError, match="nuc"):
        mg.ones(2, 2).norm(p="nuc")
    x, tx = pair([1, 2])
    same(x.norm(dtype=mg.float64), torch.norm(tx.double()))


def test_argmax_argmin_keepdim_as_torch():
    x, tx = pair(np.array([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]]))
    for name in ("argmax", "argmin"):
        for dim in (0, 1, -1):
            same(getattr(x, name)(dim=dim, keepdim=True), getattr(tx, name)(dim=dim, keepdim=True))


# ---------------------------------------------------------------------------- reordering


@pytest.mark.parametrize("n,chunks", [(7, 3), (6, 3), (5, 4), (2, 5), (1, 1), (0, 3)])
def test_chunk_sizes_as_torch(n, chunks):
    x, tx = pair(np.arange(float(n)))
    ours, theirs = x.chunk(chunks), tx.chunk(chunks)
    assert [c.shape[0] for c in ours] == [c.shape[0] for c in theirs]
    for c, tc in zip(ours, theirs):
        same(c, tc)


@pytest.mark.parametrize("size", [1, 2, 3, 5, [2, 3], [0, 5], [5, 0, 0]])
def test_split_as_torch(size):
    x, tx = pair(np.arange(10.0).reshape(5, 2))
    ours, theirs = mg.split(x, size), torch.split(tx, size)
    assert len(ours) == len(theirs)
    for c, tc in zip(ours, theirs):
        same(c, tc)


def test_reorder_argument_errors():
    x = mg.zeros(2, 3)
    with pytest.raises(ValueError, match="add up"):
        x.split([1, 2])
    with pytest.raises(ValueError, match="positive"):
        x.chunk(0)
    with pytest.raises(ValueError, match="fewer"):
        x.repeat(2)
    with pytest.raises(ValueError, match="at least 2 dims"):
        mg.zeros(3).tril()
    with pytest.raises(ValueError, match="same length"):
        x.roll((1, 2), 0)
    with pytest.raises(ValueError, match="repeat a dimension"):
        x.flip(0, 0)
    with pytest.raises(IndexError):
        x.flip(2)


def test_flip_copies_and_accepts_torch_argument_forms():
    x, tx = pair(np.arange(6.0).reshape(2, 3))
    same(x.flip(0, 1), tx.flip(0, 1))
    same(x.flip((1,)), tx.flip((1,)))
    same(mg.flip(x, [0]), torch.flip(tx, [0]))
    y = x.flip(0)
    y[0, 0] = 100.0
    assert x[1, 0].item() == 3.0  # a copy, as torch.flip


def test_repeat_of_0d_and_empty_tensors_as_torch():
    s, ts = pair(1.5, requires_grad=True)
    out, tout = s.repeat(2, 3), ts.repeat(2, 3)
    same(out, tout)
    out.sum().backward()
    tout.sum().backward()
    same(s.grad, ts.grad)
    e, te = pair(np.zeros((0, 2)), requires_grad=True)
    out = e.repeat(3, 2)
    same(out, te.repeat(3, 2))
    out.sum().backward()
    assert e.grad.shape == (0, 2)


# ---------------------------------------------------------------------------- products


def test_products_check_shapes_as_torch_does():
    with pytest.raises(ValueError, match="mm"):
        mg.mm(mg.ones(2, 3), mg.ones(3))
    with pytest.raises(ValueError, match="mm: shapes"):
        mg.mm(mg.ones(2, 3), mg.ones(2, 3))
    with pytest.raises(ValueError, match="bmm"):
        mg.bmm(mg.ones(2, 2, 3), mg.ones(3, 3, 2))
    with pytest.raises(ValueError, match="dot"):
        mg.dot(mg.ones(2), mg.ones(3))
    with pytest.raises(ValueError, match="outer"):
        mg.outer(mg.ones(2, 1), mg.ones(3))


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(1, 2, 3), (4, 3, 2)]),
    ("i,i", [(3,), (3,)]), ("ij,j->i", [(2, 3), (3,)]), ("ij", [(2, 3)]), ("ji", [(2, 3)]),
    ("ij->", [(2, 3)]), ("ij,jk->ki", [(2, 3), (3, 1)]), ("i,j->ji", [(2,), (3,)]),
    ("bnd,bmd->bnm", [(2, 3, 4), (2, 5, 4)]), ("ab,cd->abcd", [(2, 1), (1, 3)]),
    ("ij,kl->", [(2, 3), (1, 2)]), ("ij,ik->jk", [(3, 1), (3, 2)]),
])
def test_einsum_values_and_gradients_as_torch(equation, shapes):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours_in = [mg.tensor(a, requires_grad=True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, tout = mg.einsum(equation, *ours_in), torch.einsum(equation, *theirs_in)
    same(out, tout)
    g = rng.standard_normal(tout.shape)
    out.backward(mg.tensor(g))
    tout.backward(torch.tensor(g))
    for x, tx in zip(ours_in, theirs_in):
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    same(mg.einsum(equation, ours_in), torch.einsum(equation, theirs_in))  # operands as a list


@pytest.mark.parametrize("equation,shapes,message", [
    ("ij,jk,kl->il", [(2, 2)] * 3, "only one- and two-operand"),
    ("...ij,...jk->...ik", [(2, 2), (2, 2)], "ellipsis"),
    ("ii->i", [(2, 2)], "repeated within one operand"),
    ("ii", [(2, 2)], "repeated within one operand"),
    ("ij,jk->ik", [(2, 3), (2, 3)], "size 3 in one operand and 2"),
    ("ijk,jk->i", [(2, 3), (3, 2)], "subscripts 'ijk' name 3 dims"),
    ("ij,jk->iz", [(2, 3), (3, 2)], "appear in no input"),
    ("ij,jk->ii", [(2, 3), (3, 2)], "repeat a letter"),
    ("ij,jk", [(2, 3)], "names 2 operands, but 1"),
    ("i1,1k", [(2, 3), (3, 2)], "letters"),
])
def test_einsum_unsupported_or_wrong_equations_raise_value_error(equation, shapes, message):
    with pytest.raises(ValueError, match="einsum") as info:
        mg.einsum(equation, *[mg.ones(*s) for s in shapes])
    assert message in str(info.value)


# ---------------------------------------------------------------------------- second order


SECOND_ORDER = {
    "gather": lambda x: x.gather(1, mg.tensor([[0, 0], [1, 0]])) ** 2,
    "scatter_add": lambda x: mg.zeros(3, 2, dtype=mg.float64).scatter_add(
        0, mg.tensor([[0, 2], [0, 0]]), x * x),
    "sort": lambda x: x.sort(1).values ** 2,
    "cumsum": lambda x: x.cumsum(1) ** 2,
    "norm": lambda x: x.norm(dim=1),
    "norm_p3": lambda x: x.norm(3),
    "einsum": lambda x: mg.einsum("ij,kj->ik", x, x),
    "erf": lambda x: x.erf(),
    "log1p": lambda x: (x * x).log1p(),
    "rsqrt": lambda x: (x * x + 1).rsqrt(),
    "remainder": lambda x: (x * x) % 0.7,
    "roll_flip_repeat": lambda x: (x.roll(1, 1).flip(0).repeat(2, 1) ** 2),
    "tril_masked_fill": lambda x: (x.tril() * x).masked_fill(mg.tensor([True, False]), 1.0),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives(name):
    x = mg.tensor([[0.3, -1.1], [0.7, 1.9]], dtype=mg.float64, requires_grad=True)
    assert mg.gradgradcheck(SECOND_ORDER[name], (x,))


# ---------------------------------------------------------------------------- new_*, view_as


def test_new_factories_inherit_dtype_and_device_as_torch():
    x, tx = pair(np.zeros(2))
    same(x.new_zeros(2, 3), tx.new_zeros(2, 3))
    same(x.new_ones((3,)), tx.new_ones((3,)))
    same(x.new_full((2,), 7), tx.new_full((2,), 7))
    same(x.new_empty(0), tx.new_empty(0))
    i, ti = pair([1, 2])
    same(i.new_ones(2), ti.new_ones(2))
    same(i.new_zeros(2, dtype=mg.float32), ti.new_zeros(2, dtype=torch.float32))
    y = x.new_zeros(3, requires_grad=True)
    assert y.requires_grad and y.is_leaf


def test_eq_ne_view_as_methods_as_torch():
    a, ta = pair([1.0, 2.0, 3.0])
    b, tb = pair([1.0, 0.0, 3.0])
    same(a.eq(b), ta.eq(tb))
    same(mg.ne(a, 2.0), torch.ne(ta, 2.0))
    same(a.view_as(mg.zeros(3, 1)), ta.view_as(torch.zeros(3, 1)))


# ---------------------------------------------------------------------------- random draws


def test_randperm_is_a_reproducible_permutation():
    mg.manual_seed(3)
    p = mg.randperm(10)
    assert p.dtype == mg.int64 and sorted(p.tolist()) == list(range(10))
    mg.manual_seed(3)
    assert mg.randperm(10).tolist() == p.tolist()
    assert mg.randperm(0).shape == (0,)
    assert mg.randperm(4, dtype=mg.float32).dtype == mg.float32
    with pytest.raises(ValueError, match="randperm"):
        mg.randperm(-1)


def test_multinomial_draws_follow_the_weights():
    mg.manual_seed(0)
    weights = mg.tensor([1.0, 0.0, 3.0])
    draws = mg.multinomial(weights, 4000, replacement=True)
    assert draws.dtype == mg.int64 and draws.shape == (4000,)
    counts = np.bincount(draws.numpy(), minlength=3)
    assert counts[1] == 0
    assert abs(counts[2] / 4000 - 0.75) < 0.03  # binomial sd ~0.007
    rows = mg.multinomial(mg.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 2.0, 1.0, 0.0]]), 2)
    assert rows.shape == (2, 2)
    for row in rows.tolist():
        assert len(set(row)) == 2
    assert set(rows.tolist()[1]) == {1, 2}
    mg.manual_seed(5)
    first = mg.multinomial(weights, 5, replacement=True).tolist()
    mg.manual_seed(5)
    assert mg.multinomial(weights, 5, replacement=True).tolist() == first


@pytest.mark.parametrize("weights,n,replacement,error", [
    ([1.0, -1.0], 1, True, RuntimeError), ([0.0, 0.0], 1, True, RuntimeError),
    ([1.0, 0.0], 2, False, RuntimeError), ([1.0, math.nan], 1, True, RuntimeError),
    ([1.0], 0, True, ValueError), ([[[1.0]]], 1, True, ValueError),
])
def test_multinomial_rejects_what_torch_rejects(weights, n, replacement, error):
    with pytest.raises(error, match="multinomial"):
        mg.multinomial(mg.tensor(weights), n, replacement=replacement)


# ---------------------------------------------------------------------------- devices


@CUDA
def test_ops_outside_the_registry_work_on_the_device(device):
    x = mg.tensor([[3.0, 1.0, 2.0], [math.nan, 5.0, 4.0]], device=device)
    assert mg.allclose(x, x, equal_nan=True) and not mg.allclose(x, x)
    s = x.sort(1, descending=True)
    assert s.values.device == device and s.indices.device == device
    np.testing.assert_array_equal(s.indices.cpu().numpy(), [[0, 2, 1], [0, 1, 2]])
    assert x.isnan().any().item() and not x.isfinite().all().item()
    assert mg.randperm(5, device=device).device == device
    draws = mg.multinomial(mg.tensor([0.0, 1.0], device=device), 3, replacement=True)
    assert draws.device == device and draws.cpu().tolist() == [1, 1, 1]
    i = mg.tensor([5, -5, 7], device=device)
    assert (i // 2).cpu().tolist() == [2, -3, 3] and (i % 3).cpu().tolist() == [2, 1, 1]
    assert x.new_ones(2).device == device
    with pytest.raises(RuntimeError, match="index is on"):
        x.gather(1, mg.tensor([[0]]))
    with pytest.raises(RuntimeError, match="division by zero"):
        i // mg.tensor([1, 0, 1], device=device)
    chunks = x.chunk(2, 1)
    assert [c.device == device for c in chunks] == [True, True]

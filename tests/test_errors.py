"""Bad shapes and types raise ValueError/TypeError (IndexError for dims, as PyTorch) whose
message names the op and the offending shapes or values; autograd misuse raises RuntimeError."""

import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops.conv import avg_pool2d, conv2d, max_pool2d


def t(*shape, requires_grad=False):
    return mg.zeros(*shape, requires_grad=requires_grad)


def shape_text(shape):
    return re.escape(str(tuple(shape)))


SHAPE_ERRORS = [
    # id, callable, exception, fragments the message must contain (op name first)
    ("matmul", lambda: t(2, 3) @ t(4, 5), ValueError, ["matmul", (2, 3), (4, 5)]),
    ("matmul_batched", lambda: mg.matmul(t(2, 2, 3), t(3, 3, 4)), ValueError, ["matmul", (2, 2, 3), (3, 3, 4)]),
    ("matmul_vec", lambda: mg.matmul(t(3), t(4)), ValueError, ["matmul", (3,), (4,)]),
    ("add", lambda: t(2, 3) + t(4), ValueError, ["add", (2, 3), (4,)]),
    ("sub", lambda: mg.sub(t(2, 3), t(3, 2)), ValueError, ["sub", (2, 3), (3, 2)]),
    ("mul", lambda: t(2, 3) * t(2, 4), ValueError, ["mul", (2, 3), (2, 4)]),
    ("div", lambda: t(5) / t(2, 4), ValueError, ["div", (5,), (2, 4)]),
    ("pow", lambda: t(3) ** t(2), ValueError, ["pow", (3,), (2,)]),
    ("maximum", lambda: mg.maximum(t(2, 3), t(5)), ValueError, ["maximum", (2, 3), (5,)]),
    ("minimum", lambda: mg.minimum(t(2, 3), t(5)), ValueError, ["minimum", (2, 3), (5,)]),
    ("where", lambda: mg.where(t(2, 3) > 0, t(3), t(4)), ValueError, ["where", (2, 3), (4,)]),
    ("reshape", lambda: t(2, 3).reshape(4, 2), ValueError, ["reshape", (2, 3), (4, 2)]),
    ("reshape_infer", lambda: t(2, 3).reshape(4, -1), ValueError, ["reshape", (2, 3)]),
    ("view", lambda: t(2, 3).view(5), ValueError, ["view", (2, 3), (5,)]),
    ("expand", lambda: t(2, 3).expand(4, 3), ValueError, ["expand", (2, 3), (4, 3)]),
    ("broadcast_to", lambda: mg.broadcast_to(t(2, 3), (3, 3)), ValueError, ["broadcast_to", (2, 3), (3, 3)]),
    ("cat", lambda: mg.cat([t(2, 3), t(2, 4)], dim=0), ValueError, ["cat", (2, 3), (2, 4)]),
    ("cat_ndim", lambda: mg.cat([t(2, 3), t(3)]), ValueError, ["cat", (3,)]),
    ("stack", lambda: mg.stack([t(2, 3), t(3, 2)]), ValueError, ["stack", (2, 3), (3, 2)]),
    ("permute", lambda: t(2, 3).permute(0, 0), ValueError, ["permute", "(0, 0)"]),
    ("setitem", lambda: t(2, 3).__setitem__(0, t(4)), ValueError, ["setitem", (4,), (3,)]),
    ("conv2d_channels", lambda: conv2d(t(1, 3, 5, 5), t(2, 4, 3, 3)), ValueError,
     ["conv2d", (1, 3, 5, 5), (2, 4, 3, 3)]),
    ("conv2d_kernel_too_large", lambda: conv2d(t(1, 3, 2, 2), t(2, 3, 3, 3)), ValueError,
     ["conv2d", "kernel (3, 3)"]),
    ("conv2d_not_4d", lambda: conv2d(t(3, 5, 5), t(2, 3, 3, 3)), ValueError, ["conv2d", (3, 5, 5)]),
    ("conv2d_bias", lambda: conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3), t(3)), ValueError, ["conv2d", (3,)]),
    ("max_pool2d_padding", lambda: max_pool2d(t(1, 1, 4, 4), 2, padding=2), ValueError,
     ["max_pool2d", "padding", "(2, 2)"]),
    ("avg_pool2d_padding", lambda: avg_pool2d(t(1, 1, 4, 4), 3, padding=2), ValueError,
     ["avg_pool2d", "padding", "(2, 2)"]),
    ("max_pool2d_kernel_too_large", lambda: max_pool2d(t(1, 1, 2, 2), 3), ValueError,
     ["max_pool2d", "kernel (3, 3)"]),
    ("pool_not_4d", lambda: avg_pool2d(t(4, 4), 2), ValueError, ["avg_pool2d", (4, 4)]),
    ("negative_step", lambda: t(5)[::-1], ValueError, ["getitem", "step", "-1"]),
    ("negative_step_setitem", lambda: t(5).__setitem__(slice(None, None, -2), 1.0), ValueError,
     ["setitem", "step"]),
    ("clamp_no_bounds", lambda: t(2).clamp(), ValueError, ["clamp"]),
]


@pytest.mark.parametrize("fn,exc,fragments", [c[1:] for c in SHAPE_ERRORS], ids=[c[0] for c in SHAPE_ERRORS])
def test_shape_error_names_op_and_shapes(fn, exc, fragments):
    with pytest.raises(exc) as info:
        fn()
    message = str(info.value)
    assert message.startswith(fragments[0]), f"message does not start with the op name: {message!r}"
    for fragment in fragments[1:]:
        text = str(fragment) if not isinstance(fragment, tuple) else str(tuple(fragment))
        assert text in message, f"{text!r} not in {message!r}"


TYPE_ERRORS = [
    ("add_str", lambda: t(2) + "a", ["add"]),
    ("conv2d_list", lambda: conv2d([1.0], t(2, 3, 3, 3)), ["conv2d", "list"]),
    ("conv2d_dtype", lambda: conv2d(t(1, 3, 5, 5), t(2, 3, 3, 3).double()), ["conv2d", "float"]),
    ("argmax_tuple_dim", lambda: t(2, 3).argmax(dim=(0, 1)), ["argmax"]),
]


@pytest.mark.parametrize("fn,fragments", [c[1:] for c in TYPE_ERRORS], ids=[c[0] for c in TYPE_ERRORS])
def test_type_errors(fn, fragments):
    with pytest.raises(TypeError) as info:
        fn()
    assert str(info.value).startswith(fragments[0])
    for fragment in fragments[1:]:
        assert fragment in str(info.value)


DIM_ERRORS = [
    ("sum", lambda: t(2, 3).sum(dim=2)),
    ("mean", lambda: t(2, 3).mean(dim=(0, -3))),
    ("max", lambda: mg.max(t(2, 3), dim=5)),
    ("softmax", lambda: t(2, 3).softmax(5)),
    ("log_softmax", lambda: t(2, 3).log_softmax(-3)),
    ("transpose", lambda: t(2, 3).transpose(0, 3)),
    ("unsqueeze", lambda: t(2, 3).unsqueeze(4)),
    ("squeeze", lambda: t(2, 3).squeeze(3)),
    ("flatten", lambda: t(2, 3).flatten(2)),
    ("argmax", lambda: t(2, 3).argmax(dim=2)),
    ("cat", lambda: mg.cat([t(2), t(2)], dim=1)),
    ("getitem", lambda: t(2, 3)[5]),
]


@pytest.mark.parametrize("name,fn", DIM_ERRORS, ids=[c[0] for c in DIM_ERRORS])
def test_bad_dim_is_an_index_error_naming_the_op(name, fn):
    with pytest.raises(IndexError) as info:
        fn()
    assert str(info.value).startswith(name), str(info.value)


def test_requires_grad_on_integer_tensors():
    with pytest.raises(RuntimeError, match="floating point"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        mg.arange(3).requires_grad_()
    with pytest.raises(RuntimeError):
        mg.zeros(3, dtype=mg.int64, requires_grad=True)


def test_numpy_on_a_tensor_requiring_grad():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)"):
        x.numpy()
    np.testing.assert_array_equal(x.detach().numpy(), [1.0, 2.0])


def test_backward_on_non_scalar_needs_gradient():
    y = mg.tensor([1.0, 2.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=re.escape("(2,)")):
        y.backward()
    y.backward(mg.ones(2))  # with a gradient it works


def test_second_backward_through_freed_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp().sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_inplace_on_saved_tensor_is_caught():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x * 1.0
    y = (h * h).sum()
    h += 1.0
    with pytest.raises(RuntimeError):
        y.backward()


@pytest.mark.skipif(not mg.cuda.is_available(), reason="mixing devices needs a GPU")
def test_mixing_devices():
    with pytest.raises(RuntimeError):
        mg.zeros(2) + mg.zeros(2, device="cuda")


def test_asking_for_cuda_without_gpu_says_why():
    if mg.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError) as info:
        mg.zeros(2, device="cuda")
    assert len(str(info.value)) > 20

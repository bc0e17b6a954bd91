"""Element-wise ops: arithmetic with broadcasting, unary math, activations, comparisons.

Each op's forward works on raw arrays (`ctx.xp` is numpy or cupy); each backward works on
Tensors and sums broadcast gradients back to the input's shape with `sum_to`.
"""

import numpy as np

from ..autograd import Op, is_grad_enabled
from ..backend.device import move
from ..tensor import Tensor
from .common import broadcast_shapes, check_tensor, promote, sum_to, sum_to_array

# ---------------------------------------------------------------------------- binary arithmetic


class Add(Op):
    """y = a + b;  da = gy, db = gy (summed over broadcast dims)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a + b

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        return (sum_to(gy, sa) if ctx.needs_input_grad[0] else None,
                sum_to(gy, sb) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_arrays(ctx, gy):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        if sa == sb:  # no broadcasting (the common case): nothing to sum, skip the calls
            return (gy if need_a else None, gy if need_b else None)
        return (sum_to_array(gy, sa) if need_a else None, sum_to_array(gy, sb) if need_b else None)


class Sub(Op):
    """y = a - b;  da = gy, db = -gy."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (a.shape, b.shape)
        return a - b

    @staticmethod
    def backward(ctx, gy):
        sa, sb = ctx.shapes
        return (sum_to(gy, sa) if ctx.needs_input_grad[0] else None,
                sum_to(-gy, sb) if ctx.needs_input_grad[1] else None)

    @staticmethod
    def backward_arrays(ctx, gy):
        sa, sb = ctx.shapes
        need_a, need_b = ctx.needs_input_grad
        if sa == sb:  # no broadcasting: nothing to sum
            return (gy if need_a else None, -gy if need_b else None)
        return (sum_to_array(gy, sa) if need_a else None,
                sum_to_array(-gy, sb) if need_b else None)


class Mul(Op):
    """y = a * b;  da = gy * b, db = gy * a."""

    @staticmethod
    def forward(ctx, a, b):
        # Save only what the wanted gradients need: `h *= 2` must not save h itself.
        need_a, need_b = ctx.needs_input_grad
        if need_a and need_b:
            ctx.save_inputs(0, 1)
        elif need_a or need_b:
            ctx.save_inputs(1 if need_a else 0)
        ctx.shapes = (a.shape, b.shape)
        return a * b

    @staticmethod
    def backward(ctx, gy):
        need_a, need_b = ctx.needs_input_grad
        saved = list(ctx.saved_inputs)
        a = saved.pop(0) if need_b else None
        b = saved.pop(0) if need_a else None
        sa, sb = ctx.shapes
        return (sum_to(gy * b, sa) if need_a else None, sum_to(gy * a, sb) if need_b else None)

    @staticmethod
    def backward_arrays(ctx, gy):
        need_a, need_b = ctx.needs_input_grad
        saved = ctx.saved_input_arrays
        a = saved[0] if need_b else None
        b = saved[-1] if need_a else None
        sa, sb = ctx.shapes
        if sa == sb:  # no broadcasting: nothing to sum
            return (gy * b if need_a else None, gy * a if need_b else None)
        return (sum_to_array(gy * b, sa) if need_a else None,
                sum_to_array(gy * a, sb) if need_b else None)


class Div(Op):
    """y = a / b;  da = gy / b, db = -gy * a / b**2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1) if ctx.needs_input_grad[1] else ctx.save_inputs(1)
        ctx.shapes = (a.shape, b.shape)
        with np.errstate(divide="ignore", invalid="ignore"):  # x/0 is inf/nan, as PyTorch, silently
            return a / b

    @staticmethod
    def backward(ctx, gy):
        need_a, need_b = ctx.needs_input_grad
        sa, sb = ctx.shapes
        if need_b:
            a, b = ctx.saved_inputs
        else:
            (b,) = ctx.saved_inputs
        ga = sum_to(gy / b, sa) if need_a else None
        gb = sum_to(-gy * a / (b * b), sb) if need_b else None
        return ga, gb

    @staticmethod
    def backward_arrays(ctx, gy):
        need_a, need_b = ctx.needs_input_grad
        sa, sb = ctx.shapes
        saved = ctx.saved_input_arrays
        a, b = saved if need_b else (None, saved[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            ga = sum_to_array(gy / b, sa) if need_a else None
            gb = sum_to_array(-gy * a / (b * b), sb) if need_b else None
        return ga, gb


class Pow(Op):
    """y = a ** b;  da = gy * b * a**(b-1),  db = gy * y * log(a) (0 where a == 0)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        ctx.save_outputs(0)
        ctx.shapes = (a.shape, b.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            return a ** b

    @staticmethod
    def backward(ctx, gy):
        a, b = ctx.saved_inputs
        sa, sb = ctx.shapes
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # b == 0 gives 0, not 0 * a**-1 (nan at a == 0), as PyTorch: the exponent b - 1
            # is replaced there (by 1), so no inf is formed and double backward stays finite.
            ga = sum_to(gy * b * a ** where(b == 0, 1.0, b - 1), sa)
        if ctx.needs_input_grad[1]:
            (y,) = ctx.saved_outputs
            safe_a = where(a == 0, 1.0, a)
            gb = sum_to(where((a == 0) & (b >= 0), 0.0, gy * y * safe_a.log()), sb)
        return ga, gb


class Maximum(Op):
    """y = max(a, b);  gy goes to the larger input, split in half on ties (as PyTorch)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        ctx.shapes = (a.shape, b.shape)
        return ctx.xp.maximum(a, b)

    @staticmethod
    def backward(ctx, gy):
        return _minmax_backward(ctx, gy, larger=True)


class Minimum(Op):
    """y = min(a, b);  gy goes to the smaller input, split in half on ties."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_inputs(0, 1)
        ctx.shapes = (a.shape, b.shape)
        return ctx.xp.minimum(a, b)

    @staticmethod
    def backward(ctx, gy):
        return _minmax_backward(ctx, gy, larger=False)


def _minmax_backward(ctx, gy, larger):
    a, b = ctx.saved_inputs
    wins = (a._data > b._data) if larger else (a._data < b._data)
    ties = a._data == b._data
    weight_a = Tensor._make(wins + 0.5 * ties, gy.device).to(gy.dtype)
    weight_b = 1 - weight_a
    sa, sb = ctx.shapes
    return (sum_to(gy * weight_a, sa) if ctx.needs_input_grad[0] else None,
            sum_to(gy * weight_b, sb) if ctx.needs_input_grad[1] else None)


class Where(Op):
    """y = cond ? a : b;  da = gy where cond, db = gy where not cond."""

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.cond = cond
        ctx.shapes = (a.shape, b.shape)
        return ctx.xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, gy):
        cond = Tensor._make(ctx.cond, gy.device)
        sa, sb = ctx.shapes
        return (None,
                sum_to(gy * cond, sa) if ctx.needs_input_grad[1] else None,
                sum_to(gy * ~cond, sb) if ctx.needs_input_grad[2] else None)


# ---------------------------------------------------------------------------- unary math


class Neg(Op):
    """y = -x;  dx = -gy."""

    @staticmethod
    def forward(ctx, x):
        return -x

    @staticmethod
    def backward(ctx, gy):
        return -gy

    @staticmethod
    def backward_arrays(ctx, gy):
        return -gy


class Exp(Op):
    """y = exp(x);  dx = gy * y."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        with np.errstate(over="ignore"):
            return ctx.xp.exp(x)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy * y

    @staticmethod
    def backward_arrays(ctx, gy):
        (y,) = ctx.saved_output_arrays
        return gy * y


class Log(Op):
    """y = log(x);  dx = gy / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ctx.xp.log(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy / x

    @staticmethod
    def backward_arrays(ctx, gy):
        (x,) = ctx.saved_input_arrays
        with np.errstate(divide="ignore", invalid="ignore"):
            return gy / x


class Sqrt(Op):
    """y = sqrt(x);  dx = gy / (2 y)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        with np.errstate(invalid="ignore"):
            return ctx.xp.sqrt(x)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy / (2 * y)

    @staticmethod
    def backward_arrays(ctx, gy):
        (y,) = ctx.saved_output_arrays
        with np.errstate(divide="ignore", invalid="ignore"):
            return gy / (2 * y)


class Abs(Op):
    """y = |x|;  dx = gy * sign(x)  (0 at x == 0)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.abs(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy * x.sign()


class Sign(Op):
    """y = sign(x);  derivative 0 almost everywhere."""

    @staticmethod
    def forward(ctx, x):
        return ctx.xp.sign(x)

    @staticmethod
    def backward(ctx, gy):
        return gy * 0


class Sin(Op):
    """y = sin(x);  dx = gy * cos(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.sin(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return gy * x.cos()


class Cos(Op):
    """y = cos(x);  dx = -gy * sin(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_inputs(0)
        return ctx.xp.cos(x)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        return -gy * x.sin()


class Tanh(Op):
    """y = tanh(x);  dx = gy * (1 - y**2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        return ctx.xp.tanh(x)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy * (1 - y * y)

    @staticmethod
    def backward_arrays(ctx, gy):
        (y,) = ctx.saved_output_arrays
        return gy * (1 - y * y)


class Sigmoid(Op):
    """y = 1 / (1 + exp(-x));  dx = gy * y * (1 - y)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        xp = ctx.xp
        # exp(-|x|) never overflows, so both branches are finite for any x.
        z = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (y,) = ctx.saved_outputs
        return gy * y * (1 - y)

    @staticmethod
    def backward_arrays(ctx, gy):
        (y,) = ctx.saved_output_arrays
        return gy * y * (1 - y)


class Relu(Op):
    """y = max(x, 0);  dx = gy where x > 0, else 0 (also at exactly 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_outputs(0)
        if x.dtype.kind != "f":  # the kernels are for floats; ints/bools as numpy does them
            return ctx.xp.maximum(x, 0).astype(x.dtype, copy=False)
        return ctx.kernels.relu(x)

    @staticmethod
    def backward(ctx, gy):
        # y > 0 exactly where x > 0, so the output is all backward needs.
        (y,) = ctx.saved_outputs
        return ReluGrad.apply(gy, mask_of=y._data)

    @staticmethod
    def backward_arrays(ctx, gy):
        (y,) = ctx.saved_output_arrays
        if gy.dtype.kind != "f" or y.dtype != gy.dtype:
            return gy * (y > 0).astype(gy.dtype)
        return ctx.kernels.relu_backward(y, gy)  # one fused pass


class ReluGrad(Op):
    """gx = gy where mask_of > 0, else 0 (ReLU's backward, one fused kernel pass). Linear in gy
    with a constant mask, so its own gradient is ReluGrad again."""

    @staticmethod
    def forward(ctx, gy, *, mask_of):
        if is_grad_enabled():  # recorded for a double backward: a private copy of the mask
            ctx.mask_of = mask_of > 0
        if gy.dtype.kind != "f" or mask_of.dtype != gy.dtype:
            return gy * (mask_of > 0).astype(gy.dtype)
        return ctx.kernels.relu_backward(mask_of, gy)

    @staticmethod
    def backward(ctx, u):
        return ReluGrad.apply(u, mask_of=ctx.mask_of)

    @staticmethod
    def backward_arrays(ctx, u):
        return u * ctx.mask_of.astype(u.dtype)


class LeakyRelu(Op):
    """y = x if x > 0 else slope * x;  dx = gy or slope * gy."""

    @staticmethod
    def forward(ctx, x, *, negative_slope):
        ctx.slope = negative_slope
        ctx.save_inputs(0)
        return ctx.xp.where(x > 0, x, x * x.dtype.type(negative_slope))

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        # The derivative at exactly 0 is taken as the slope side, as PyTorch.
        scale = ctx.xp.where(x._data > 0, 1.0, ctx.slope).astype(gy.dtype)
        return gy * Tensor._make(scale, gy.device)


class Clamp(Op):
    """y = min(max(x, lo), hi);  dx = gy where lo <= x <= hi, else 0 (as PyTorch)."""

    @staticmethod
    def forward(ctx, x, *, lo, hi):
        ctx.save_inputs(0)
        ctx.bounds = (lo, hi)
        return ctx.xp.clip(x, lo, hi).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_inputs
        lo, hi = ctx.bounds
        inside = ctx.xp.ones(x.shape, bool)
        if lo is not None:
            inside &= x._data >= lo
        if hi is not None:
            inside &= x._data <= hi
        return gy * Tensor._make(inside.astype(gy.dtype), gy.device)


class Cast(Op):
    """y = x.to(dtype);  dx = gy cast back to x's dtype (only between floating types)."""

    @staticmethod
    def forward(ctx, x, *, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, gy):
        return gy.to(ctx.in_dtype)

    @staticmethod
    def backward_arrays(ctx, gy):
        return gy.astype(ctx.in_dtype)


class Clone(Op):
    """y = copy of x;  dx = gy."""

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, gy):
        return gy

    @staticmethod
    def backward_arrays(ctx, gy):
        return gy


class ToDevice(Op):
    """y = x on another device;  dx = gy moved back."""

    _moves_to_device = True  # the output lives on kwargs["device"]

    @staticmethod
    def forward(ctx, x, *, device):
        ctx.source = ctx.device
        return move(x, device)

    @staticmethod
    def backward(ctx, gy):
        return gy.to(ctx.source)


# ---------------------------------------------------------------------------- public functions


def _binary(op_cls, name, a, b):
    # Fast path (most calls): two Tensors of one dtype and one shape need no promotion and
    # no broadcasting check.
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        da, db = a._data, b._data
        if da.dtype is db.dtype and da.shape == db.shape:
            return op_cls.apply(a, b)
    a, b = promote(name, a, b)
    broadcast_shapes(name, a.shape, b.shape)
    return op_cls.apply(a, b)


def add(a, b, *, alpha=1):
    """a + alpha * b, broadcasting (as torch.add)."""
    return _binary(Add, "add", a, b if alpha == 1 else b * alpha)


def sub(a, b, *, alpha=1):
    """a - alpha * b, broadcasting (as torch.sub)."""
    return _binary(Sub, "sub", a, b if alpha == 1 else b * alpha)


def mul(a, b):
    """a * b, broadcasting."""
    return _binary(Mul, "mul", a, b)


def div(a, b):
    """True division a / b, broadcasting; integer inputs give the default float dtype."""
    a, b = promote("div", a, b)
    if a.dtype.kind != "f":
        a, b = a.float(), b.float()
    broadcast_shapes("div", a.shape, b.shape)
    return Div.apply(a, b)


def pow(a, b):  # noqa: A001
    """a ** b, broadcasting."""
    return _binary(Pow, "pow", a, b)


def maximum(a, b):
    """Element-wise maximum of a and b, broadcasting."""
    return _binary(Maximum, "maximum", a, b)


def minimum(a, b):
    """Element-wise minimum of a and b, broadcasting."""
    return _binary(Minimum, "minimum", a, b)


def where(condition, a, b):
    """Pick from a where condition holds, else from b (broadcasting all three)."""
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got {cond.dtype}")
    a, b = promote("where", a, b)
    broadcast_shapes("where", cond.shape, a.shape, b.shape)
    return Where.apply(cond, a, b)


def _unary(op_cls, name, x, **kwargs):
    check_tensor(x, name)
    if x.dtype.kind != "f" and op_cls not in (Neg, Abs, Sign, Clone):
        x = x.float()
    return op_cls.apply(x, **kwargs)


def neg(x):
    """-x."""
    return _unary(Neg, "neg", x)


def exp(x):
    """e ** x."""
    return _unary(Exp, "exp", x)


def log(x):
    """Natural logarithm."""
    return _unary(Log, "log", x)


def sqrt(x):
    """Square root."""
    return _unary(Sqrt, "sqrt", x)


def abs(x):  # noqa: A001
    """Absolute value."""
    return _unary(Abs, "abs", x)


def sign(x):
    """-1, 0 or 1 by the sign of x."""
    return _unary(Sign, "sign", x)


def sin(x):
    """Sine."""
    return _unary(Sin, "sin", x)


def cos(x):
    """Cosine."""
    return _unary(Cos, "cos", x)


def tanh(x):
    """Hyperbolic tangent."""
    return _unary(Tanh, "tanh", x)


def sigmoid(x):
    """Logistic sigmoid 1 / (1 + exp(-x)), stable for large |x|."""
    return _unary(Sigmoid, "sigmoid", x)


def relu(x):
    """max(x, 0); the derivative at 0 is 0."""
    return _unary(Relu, "relu", x)


def leaky_relu(x, negative_slope=0.01):
    """x if x > 0 else negative_slope * x."""
    if not isinstance(negative_slope, (int, float)) or isinstance(negative_slope, bool):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    return _unary(LeakyRelu, "leaky_relu", x, negative_slope=float(negative_slope))


def clamp(x, min=None, max=None):  # noqa: A002
    """Limit x to [min, max]; either bound may be None (not both)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for name, v in (("min", min), ("max", max)):
        if v is not None and (not isinstance(v, (int, float, np.number)) or isinstance(v, bool)):
            raise TypeError(f"clamp: {name} must be a number, got {type(v).__name__}")
    check_tensor(x, "clamp")
    return Clamp.apply(x, lo=min, hi=max)


clip = clamp


def clone(x):
    """A copy of x that stays in the graph."""
    return _unary(Clone, "clone", x)


# ---------------------------------------------------------------------------- comparisons (no grad)


def _compare(name, ufunc, a, b):
    a, b = promote(name, a, b)
    broadcast_shapes(name, a.shape, b.shape)
    return Tensor._make(getattr(a.device.xp, ufunc)(a._data, b._data), a.device)


def eq(a, b):
    return _compare("eq", "equal", a, b)


def ne(a, b):
    return _compare("ne", "not_equal", a, b)


def lt(a, b):
    return _compare("lt", "less", a, b)


def le(a, b):
    return _compare("le", "less_equal", a, b)


def gt(a, b):
    return _compare("gt", "greater", a, b)


def ge(a, b):
    return _compare("ge", "greater_equal", a, b)


def _logical(name, ufunc, a, b):
    a, b = promote(name, a, b)
    broadcast_shapes(name, a.shape, b.shape)
    return Tensor._make(getattr(a.device.xp, ufunc)(a._data, b._data), a.device)


def logical_and(a, b):
    """a and b element-wise, any dtype (nonzero is True); a bool tensor (as torch)."""
    return _logical("logical_and", "logical_and", a, b)


def logical_or(a, b):
    """a or b element-wise, any dtype; a bool tensor."""
    return _logical("logical_or", "logical_or", a, b)


def logical_xor(a, b):
    """a xor b element-wise, any dtype; a bool tensor."""
    return _logical("logical_xor", "logical_xor", a, b)


def logical_not(x):
    """not x element-wise, any dtype; a bool tensor."""
    check_tensor(x, "logical_not")
    return Tensor._make(x.device.xp.logical_not(x._data), x.device)


def _bitwise(name, ufunc, a, b):
    a, b = promote(name, a, b)
    if a.dtype.kind not in "biu":
        raise TypeError(f"{name}: needs bool or integer tensors, got {a.dtype}")
    broadcast_shapes(name, a.shape, b.shape)
    return Tensor._make(getattr(a.device.xp, ufunc)(a._data, b._data), a.device)


def bitwise_and(a, b):
    """a & b: bitwise on integers, logical on bools (as torch)."""
    return _bitwise("bitwise_and", "bitwise_and", a, b)


def bitwise_or(a, b):
    """a | b: bitwise on integers, logical on bools."""
    return _bitwise("bitwise_or", "bitwise_or", a, b)


def bitwise_xor(a, b):
    """a ^ b: bitwise on integers, logical on bools."""
    return _bitwise("bitwise_xor", "bitwise_xor", a, b)


def bitwise_not(x):
    """~x: bitwise not on integers, logical not on bools."""
    check_tensor(x, "bitwise_not")
    if x.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: needs a bool or integer tensor, got {x.dtype}")
    return Tensor._make(~x._data, x.device)

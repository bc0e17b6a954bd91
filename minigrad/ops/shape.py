"""Shape ops: reshape/view, flatten, transpose/permute, squeeze/unsqueeze, expand,
cat/stack and pad. Their backward only moves gradients around (no arithmetic), except
expand, whose backward sums over the broadcast dims."""

import math

import numpy as np

from ..autograd import Op
from .common import check_tensor, normalize_dim, promote, sum_to, sum_to_array


def _sizes(args, op):
    """Accept f(2, 3) and f((2, 3)) alike."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for a in args:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: sizes must be ints, got {args!r}")
    return tuple(int(a) for a in args)


class Reshape(Op):
    """y = x with a new shape (same elements in row-major order);  dx = gy reshaped back."""

    _view_of_input0 = True

    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, gy):
        return gy.reshape(ctx.in_shape)

    @staticmethod
    def backward_arrays(ctx, gy):
        return gy.reshape(ctx.in_shape)


class Permute(Op):
    """y = x with its dims reordered;  dx = gy with the inverse order."""

    _view_of_input0 = True

    @staticmethod
    def forward(ctx, x, *, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, gy):
        return gy.permute(*np.argsort(ctx.dims).tolist())

    @staticmethod
    def backward_arrays(ctx, gy):
        return gy.transpose(np.argsort(ctx.dims).tolist())


class Expand(Op):
    """y = x broadcast to `shape` (a read-only view);  dx = gy summed over broadcast dims."""

    _view_of_input0 = True

    @staticmethod
    def forward(ctx, x, *, shape):
        ctx.in_shape = x.shape
        return ctx.xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, gy):
        return sum_to(gy, ctx.in_shape)

    @staticmethod
    def backward_arrays(ctx, gy):
        return sum_to_array(gy, ctx.in_shape)


class Cat(Op):
    """y = the inputs joined along `dim`;  dx_i = the slice of gy that came from x_i."""

    @staticmethod
    def forward(ctx, *xs, dim):
        ctx.dim = dim
        ctx.sizes = [x.shape[dim] for x in xs]
        return ctx.xp.concatenate(xs, axis=dim)

    @staticmethod
    def backward(ctx, gy):
        grads, start = [], 0
        for size, needed in zip(ctx.sizes, ctx.needs_input_grad):
            index = (slice(None),) * ctx.dim + (slice(start, start + size),)
            grads.append(gy[index] if needed else None)
            start += size
        return tuple(grads)


class Pad(Op):
    """y = x padded with `value` (negative pads crop);  dx = gy with the opposite pads."""

    @staticmethod
    def forward(ctx, x, *, widths, value):
        # widths: ((before, after), ...) for every dim of x, first dim first.
        ctx.widths = widths
        xp = ctx.xp
        crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for (lo, hi), n in zip(widths, x.shape))
        grow = tuple((max(lo, 0), max(hi, 0)) for lo, hi in widths)
        return xp.pad(x[crop], grow, mode="constant", constant_values=value)

    @staticmethod
    def backward(ctx, gy):
        return Pad.apply(gy, widths=tuple((-lo, -hi) for lo, hi in ctx.widths), value=0)


# ---------------------------------------------------------------------------- public functions


def _reshape(x, shape, op):
    return Reshape.apply(x, shape=_target_shape(x, shape, op))


def _target_shape(x, shape, op):
    """`shape` checked against x's size, with a -1 resolved."""
    check_tensor(x, op)
    shape = _sizes(shape, op)
    if shape.count(-1) > 1:
        raise ValueError(f"{op}: only one dim can be -1, got {shape}")
    known = math.prod(n for n in shape if n != -1)
    if -1 in shape:
        if known == 0 or x.numel() % known:
            raise ValueError(f"{op}: cannot reshape tensor of shape {x.shape} into {shape}")
        shape = tuple(x.numel() // known if n == -1 else n for n in shape)
    if any(n < 0 for n in shape) or math.prod(shape) != x.numel():
        raise ValueError(f"{op}: cannot reshape tensor of shape {x.shape} into {shape}")
    return shape


def reshape(x, *shape):
    """x with a new shape; one dim may be -1 (inferred)."""
    return _reshape(x, shape, "reshape")


def view(x, *shape):
    """x with a new shape, sharing its memory; as PyTorch, a layout that cannot be seen in
    the new shape without a copy (a transposed tensor flattened, ...) raises RuntimeError:
    use reshape() or contiguous()."""
    shape = _target_shape(x, shape, "view")
    if not _viewable(x._data, shape):
        raise RuntimeError(
            f"view: the size and strides of the input (shape {x.shape}, strides in elements "
            f"{tuple(st // x._data.itemsize for st in x._data.strides)}) are not compatible with "
            f"the view shape {shape}: at least one dimension spans two contiguous subspaces. "
            "Use .reshape(...) instead (or .contiguous().view(...)).")
    return Reshape.apply(x, shape=shape)


def _viewable(array, shape):
    """Whether `array` can take `shape` by changing strides only (no copy)."""
    if array.flags.c_contiguous or array.size == 0:
        return True
    # A stand-in with the same strides over a one-element buffer: numpy's no-copy reshape
    # only looks at shape and strides (the data is never read).
    probe = np.lib.stride_tricks.as_strided(np.zeros(1, np.int8), shape=array.shape,
                                            strides=[st // array.itemsize for st in array.strides])
    try:
        probe.reshape(shape, copy=False)
    except ValueError:
        return False
    return True


def flatten(x, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one."""
    check_tensor(x, "flatten")
    if x.ndim == 0:
        return reshape(x, 1)
    start = normalize_dim(start_dim, x.ndim, "flatten")
    end = normalize_dim(end_dim, x.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    merged = math.prod(x.shape[start:end + 1])
    return reshape(x, x.shape[:start] + (merged,) + x.shape[end + 1:])


def permute(x, *dims):
    """Reorder the dims of x (a view)."""
    check_tensor(x, "permute")
    dims = _sizes(dims, "permute")
    if len(dims) != x.ndim:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor of shape {x.shape}")
    dims = tuple(normalize_dim(d, x.ndim, "permute") for d in dims)
    if sorted(dims) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} are not a permutation of 0..{x.ndim - 1}")
    return Permute.apply(x, dims=dims)


def transpose(x, dim0, dim1):
    """Swap two dims of x (a view)."""
    check_tensor(x, "transpose")
    if x.ndim == 0:
        return x
    d0 = normalize_dim(dim0, x.ndim, "transpose")
    d1 = normalize_dim(dim1, x.ndim, "transpose")
    dims = list(range(x.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(x, dims=tuple(dims))


def squeeze(x, dim=None):
    """Drop size-1 dims (all of them, or the given dim/dims when size 1)."""
    check_tensor(x, "squeeze")
    if dim is None:
        dims = {i for i, n in enumerate(x.shape) if n == 1}
    else:
        dims = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = {normalize_dim(d, x.ndim, "squeeze") for d in dims}  # (IndexError if out of range)
        dims = {d for d in dims if x.ndim and x.shape[d] == 1}
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in dims))


def unsqueeze(x, dim):
    """Insert a size-1 dim at position `dim`."""
    check_tensor(x, "unsqueeze")
    d = normalize_dim(dim, x.ndim + 1, "unsqueeze")
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


def expand(x, *sizes):
    """Broadcast x to a larger shape without copying; -1 keeps a dim's size."""
    check_tensor(x, "expand")
    sizes = _sizes(sizes, "expand")
    if len(sizes) < x.ndim:
        raise ValueError(f"expand: shape {sizes} has fewer dims than the tensor's {x.shape}")
    lead = len(sizes) - x.ndim
    shape = tuple(
        x.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes)
    )
    for i, n in enumerate(x.shape):
        if n != 1 and n != shape[lead + i]:
            raise ValueError(f"expand: cannot expand tensor of shape {x.shape} to {sizes}")
    if any(n < 0 for n in shape):
        raise ValueError(f"expand: cannot expand tensor of shape {x.shape} to {sizes}")
    if shape == x.shape:
        return x
    return Expand.apply(x, shape=shape)


def broadcast_to(x, shape):
    """Broadcast x to `shape` (numpy rules)."""
    check_tensor(x, "broadcast_to")
    shape = _sizes((shape,), "broadcast_to")
    try:
        np.broadcast_shapes(x.shape, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: cannot broadcast shape {x.shape} to {shape}") from None
    return expand(x, *shape)


def cat(tensors, dim=0):
    """Join tensors along an existing dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty list of Tensors")
    tensors = promote("cat", *tensors)
    ref = tensors[0]
    if ref.ndim == 0:
        raise ValueError("cat: zero-dimensional tensors cannot be concatenated")
    d = normalize_dim(dim, ref.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != ref.ndim or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref.shape)) if j != d):
            raise ValueError(
                f"cat: tensor {i} has shape {t.shape}, which does not match {ref.shape} "
                f"outside dim {d}"
            )
    return Cat.apply(*tensors, dim=d)


def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty list of Tensors")
    for t in tensors:
        check_tensor(t, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: tensor {i} has shape {t.shape}, expected {tensors[0].shape}")
    d = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def pad(x, pad, value=0):  # noqa: A002
    """Pad with a constant, PyTorch's F.pad order: (last_lo, last_hi, 2nd_last_lo, ...)."""
    check_tensor(x, "pad")
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or any(
        isinstance(p, bool) or not isinstance(p, (int, np.integer)) for p in pad
    ):
        raise TypeError(f"pad: pad must be a tuple of an even number of ints, got {pad!r}")
    if len(pad) // 2 > x.ndim:
        raise ValueError(f"pad: {len(pad)} pad values are too many for a tensor of shape {x.shape}")
    widths = [(0, 0)] * x.ndim
    for k in range(len(pad) // 2):
        widths[x.ndim - 1 - k] = (int(pad[2 * k]), int(pad[2 * k + 1]))
    for (lo, hi), n in zip(widths, x.shape):
        if n + lo + hi < 0 or max(-lo, 0) + max(-hi, 0) > n:
            raise ValueError(f"pad: padding {tuple(pad)} crops more than the shape {x.shape} has")
    return Pad.apply(x, widths=tuple(widths), value=value)

"""Reordering and tiling: flip, roll, repeat, tril / triu, and chunk / split (views).

Each gradient only moves values back: flip and roll undo themselves, repeat sums the tiles,
tril / triu mask the gradient the same way, chunk / split are slices (getitem).
"""

import math

import numpy as np

from ..autograd import Op
from ..tensor import Tensor
from .common import check_tensor, normalize_dim


def _int(value, name, op):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _int_tuple(values, name, op):
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    return tuple(_int(v, name, op) for v in values)


class Flip(Op):
    """y = x reversed along `dims` (a copy, as PyTorch);  dx = gy reversed the same way."""

    @staticmethod
    def forward(ctx, x, *, dims):
        ctx.dims = dims
        return ctx.xp.flip(x, dims).copy()

    @staticmethod
    def backward(ctx, gy):
        return Flip.apply(gy, dims=ctx.dims)


class Roll(Op):
    """y = x shifted cyclically by `shifts` along `dims` (None: the flattened tensor);
    dx = gy shifted back."""

    @staticmethod
    def forward(ctx, x, *, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return ctx.xp.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, gy):
        back = tuple(-s for s in ctx.shifts) if ctx.dims is not None else -ctx.shifts
        return Roll.apply(gy, shifts=back, dims=ctx.dims)


class Repeat(Op):
    """y = x tiled `reps` times along each dim (torch.repeat = numpy.tile);
    dx = the sum of gy's tiles."""

    @staticmethod
    def forward(ctx, x, *, reps):
        ctx.in_shape = x.shape
        return ctx.xp.tile(x, reps)

    @staticmethod
    def backward(ctx, gy):
        # Leading reps add new dims; view gy as (r0, n0, r1, n1, ...) and sum the r axes.
        lead = gy.ndim - len(ctx.in_shape)
        shape = (1,) * lead + tuple(ctx.in_shape)
        if 0 in gy.shape:
            return Tensor._make(ctx.xp.zeros(ctx.in_shape, gy.dtype), gy.device)
        reps = [g // n for g, n in zip(gy.shape, shape)]
        split = [v for r, n in zip(reps, shape) for v in (r, n)]
        summed = gy.reshape(*split).sum(dim=tuple(range(0, 2 * len(shape), 2)))
        return summed.reshape(ctx.in_shape)


class Triangle(Op):
    """y = the lower (tril) or upper (triu) triangle of the last two dims, from `diagonal`
    on; dx = gy masked the same way."""

    @staticmethod
    def forward(ctx, x, *, upper, diagonal):
        ctx.upper, ctx.diagonal = upper, diagonal
        return (ctx.xp.triu if upper else ctx.xp.tril)(x, diagonal)

    @staticmethod
    def backward(ctx, gy):
        return Triangle.apply(gy, upper=ctx.upper, diagonal=ctx.diagonal)


# ---------------------------------------------------------------------------- public functions


def flip(x, *args, dims=None):
    """x reversed along each of the given dims: flip(x, dims) with an int or a tuple (as
    torch.flip), or x.flip(0, 1) (as Tensor.flip)."""
    check_tensor(x, "flip")
    if dims is None:
        if not args:
            raise TypeError("flip: missing the dims to flip")
        dims = args[0] if len(args) == 1 else args
    elif args:
        raise TypeError("flip: pass dims positionally or as dims=, not both")
    dims = tuple(normalize_dim(d, x.ndim, "flip") for d in _int_tuple(dims, "dims", "flip"))
    if len(set(dims)) != len(dims):
        raise ValueError(f"flip: dims {dims} repeat a dimension")
    if x.ndim == 0:
        return Flip.apply(x, dims=())
    return Flip.apply(x, dims=dims)


def roll(x, shifts, dims=None):
    """x shifted cyclically: elements moved past the end come back at the start.

    shifts, dims: ints or tuples of equal length; dims=None rolls the flattened tensor and
    restores the shape (as torch.roll).
    """
    check_tensor(x, "roll")
    if dims is None:
        shifts_t = _int_tuple(shifts, "shifts", "roll")
        if len(shifts_t) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return Roll.apply(x, shifts=shifts_t[0], dims=None)
    shifts_t = _int_tuple(shifts, "shifts", "roll")
    dims_t = tuple(normalize_dim(d, x.ndim, "roll") for d in _int_tuple(dims, "dims", "roll"))
    if len(shifts_t) != len(dims_t):
        raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same length")
    if x.ndim == 0:
        return Roll.apply(x, shifts=0, dims=None)
    return Roll.apply(x, shifts=shifts_t, dims=dims_t)


def repeat(x, *sizes):
    """x tiled sizes[i] times along dim i (as torch.Tensor.repeat; extra sizes add leading dims)."""
    check_tensor(x, "repeat")
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    reps = _int_tuple(sizes, "sizes", "repeat")
    if len(reps) < x.ndim:
        raise ValueError(f"repeat: {len(reps)} repeat counts {reps} are fewer than the dims of "
                         f"a tensor of shape {x.shape}")
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat: repeat counts must be non-negative, got {reps}")
    return Repeat.apply(x, reps=reps)


def _triangle(x, diagonal, upper):
    name = "triu" if upper else "tril"
    check_tensor(x, name)
    if x.ndim < 2:
        raise ValueError(f"{name}: needs a tensor of at least 2 dims, got shape {x.shape}")
    return Triangle.apply(x, upper=upper, diagonal=_int(diagonal, "diagonal", name))


def tril(x, diagonal=0):
    """The lower triangle of the last two dims (on and below `diagonal`); zeros elsewhere."""
    return _triangle(x, diagonal, upper=False)


def triu(x, diagonal=0):
    """The upper triangle of the last two dims (on and above `diagonal`); zeros elsewhere."""
    return _triangle(x, diagonal, upper=True)


def _slices(x, dim, sizes):
    out, start = [], 0
    for size in sizes:
        out.append(x[(slice(None),) * dim + (slice(start, start + size),)])
        start += size
    return tuple(out)


def split(x, split_size_or_sections, dim=0):
    """Views of x along `dim`: pieces of split_size (the last may be smaller), or of the
    listed sizes (which must add up to the dim's size), as torch.split."""
    check_tensor(x, "split")
    if x.ndim == 0:
        raise ValueError("split: cannot split a 0-d tensor")
    d = normalize_dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, (tuple, list)):
        sizes = _int_tuple(split_size_or_sections, "split sizes", "split")
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise ValueError(f"split: sizes {list(sizes)} do not add up to {n}, the size of "
                             f"dim {d} of a tensor of shape {x.shape}")
    else:
        size = _int(split_size_or_sections, "split_size", "split")
        if size <= 0 and not (size == 0 and n == 0):
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else []) if size else [0]
    return _slices(x, d, sizes)


def chunk(x, chunks, dim=0):
    """x split into `chunks` views along `dim` of ceil(size / chunks) each (the last may be
    smaller, and there may be fewer than `chunks`, as torch.chunk)."""
    check_tensor(x, "chunk")
    chunks = _int(chunks, "chunks", "chunk")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if x.ndim == 0:
        raise ValueError("chunk: cannot chunk a 0-d tensor")
    d = normalize_dim(dim, x.ndim, "chunk")
    n = x.shape[d]
    size = math.ceil(n / chunks)
    if size == 0:
        return _slices(x, d, [0] * chunks)
    return split(x, size, d)

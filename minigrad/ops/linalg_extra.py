"""Products with PyTorch's strict shapes, and einsum for one or two operands.

mm (2-D @ 2-D), bmm (3-D @ 3-D, equal batch), dot (1-D . 1-D) and outer (1-D x 1-D) check
their shapes and then use matmul / mul, whose backward they inherit.

einsum handles the equations people write with one or two operands: matrix products
("ij,jk->ik"), batched ones ("bij,bjk->bik"), dot and outer products ("i,i->", "i,j->ij"),
transposes ("ij->ji") and sums ("ij->i"), explicit or implicit output, size-1 dims
broadcasting. It reduces each to a sum, a permute and one batched matmul, so the gradient
comes from those ops. Equations with three or more operands, "..." or a letter repeated within
one operand (diagonals, traces) raise ValueError.
"""

import math

from .common import check_tensor, promote
from .elementwise import mul
from .linalg import matmul


def _check_dims(op, tensors, ndims):
    for i, (t, n) in enumerate(zip(tensors, ndims)):
        check_tensor(t, op)
        if t.ndim != n:
            shapes = " and ".join(str(x.shape) for x in tensors)
            raise ValueError(f"{op}: expects {n}-D tensors, but input {i} has shape {t.shape} "
                             f"(inputs: {shapes})")


def mm(a, b):
    """The matrix product of two 2-D tensors: (n, m) @ (m, p) -> (n, p)."""
    _check_dims("mm", (a, b), (2, 2))
    if a.shape[1] != b.shape[0]:
        raise ValueError(f"mm: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({a.shape[1]} != {b.shape[0]})")
    return matmul(a, b)


def bmm(a, b):
    """Batched matrix products of two 3-D tensors: (B, n, m) @ (B, m, p) -> (B, n, p)."""
    _check_dims("bmm", (a, b), (3, 3))
    if a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise ValueError(f"bmm: shapes {a.shape} and {b.shape} cannot be multiplied "
                         "(batch sizes must be equal and a's last dim must equal b's middle one)")
    return matmul(a, b)


def dot(a, b):
    """The inner product of two 1-D tensors of equal length (a 0-d tensor)."""
    _check_dims("dot", (a, b), (1, 1))
    if a.shape != b.shape:
        raise ValueError(f"dot: inputs have different lengths: shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def outer(a, b):
    """The outer product of two 1-D tensors: out[i, j] = a[i] * b[j]."""
    _check_dims("outer", (a, b), (1, 1))
    return mul(a.reshape(-1, 1), b.reshape(1, -1))


# ---------------------------------------------------------------------------- einsum


def _parse(equation, n_operands):
    """(input subscripts per operand, output subscripts) of an einsum equation."""
    if not isinstance(equation, str):
        raise TypeError(f"einsum: equation must be a str, got {type(equation).__name__}")
    eq = equation.replace(" ", "")
    if "." in eq:
        raise ValueError(f"einsum: '...' (ellipsis) is not supported, in {equation!r}")
    lhs, arrow, rhs = eq.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != n_operands:
        raise ValueError(f"einsum: equation {equation!r} names {len(inputs)} operands, "
                         f"but {n_operands} were given")
    if n_operands > 2:
        raise ValueError(f"einsum: only one- and two-operand equations are supported, "
                         f"got {equation!r}")
    for s in inputs + [rhs]:
        if not all(c.isalpha() for c in s):
            raise ValueError(f"einsum: subscripts must be letters, got {s!r} in {equation!r}")
    for s in inputs:
        if len(set(s)) != len(s):
            raise ValueError(f"einsum: a subscript repeated within one operand ({s!r}: diagonals, "
                             f"traces) is not supported, in {equation!r}")
    if not arrow:
        counts = {}
        for s in inputs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        rhs = "".join(sorted(c for c, k in counts.items() if k == 1))
    if len(set(rhs)) != len(rhs):
        raise ValueError(f"einsum: output subscripts {rhs!r} repeat a letter, in {equation!r}")
    unknown = set(rhs) - set("".join(inputs))
    if unknown:
        raise ValueError(f"einsum: output subscripts {''.join(sorted(unknown))!r} appear in no "
                         f"input, in {equation!r}")
    return inputs, rhs


def _sum_out(t, subs, keep):
    """Sum t over the subscripts not in `keep`; returns (tensor, remaining subscripts)."""
    drop = tuple(i for i, c in enumerate(subs) if c not in keep)
    if not drop:
        return t, subs
    return t.sum(dim=drop), "".join(c for c in subs if c in keep)


def _permute_to(t, subs, order):
    if subs == order:
        return t
    return t.permute(*[subs.index(c) for c in order])


def einsum(equation, *operands):
    """Einstein summation over one or two tensors, as torch.einsum (see the module docstring
    for the equations supported). Operands may also be passed as one list."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    inputs, out = _parse(equation, len(operands))
    for t in operands:
        check_tensor(t, "einsum")
    operands = promote("einsum", *operands)
    sizes = {}
    for i, (t, subs) in enumerate(zip(operands, inputs)):
        if t.ndim != len(subs):
            raise ValueError(f"einsum: operand {i} has shape {t.shape}, but its subscripts "
                             f"{subs!r} name {len(subs)} dims, in {equation!r}")
        for c, n in zip(subs, t.shape):
            if sizes.get(c, 1) != 1 and n != 1 and sizes[c] != n:
                raise ValueError(f"einsum: subscript {c!r} has size {sizes[c]} in one operand and "
                                 f"{n} in another (shapes {[x.shape for x in operands]}), in "
                                 f"{equation!r}")
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    if len(operands) == 1:
        t, subs = _sum_out(operands[0], inputs[0], out)
        return _permute_to(t, subs, out)

    (a, b), (sa, sb) = operands, inputs
    # Letters only one operand has and the output drops: sum them away first.
    a, sa = _sum_out(a, sa, set(out) | set(sb))
    b, sb = _sum_out(b, sb, set(out) | set(sa))
    batch = [c for c in out if c in sa and c in sb]
    contract = [c for c in sa if c in sb and c not in out]
    a_free = [c for c in sa if c not in sb]
    b_free = [c for c in sb if c not in sa]

    def prepared(t, subs, order):
        t = _permute_to(t, subs, "".join(order))
        full = tuple(sizes[c] for c in order)
        return t.expand(*full) if t.shape != full else t

    a3 = prepared(a, sa, batch + a_free + contract)
    b3 = prepared(b, sb, batch + contract + b_free)
    nb = math.prod(sizes[c] for c in batch)
    na = math.prod(sizes[c] for c in a_free)
    nc = math.prod(sizes[c] for c in contract)
    nf = math.prod(sizes[c] for c in b_free)
    product = matmul(a3.reshape(nb, na, nc), b3.reshape(nb, nc, nf))
    result_subs = "".join(batch + a_free + b_free)
    product = product.reshape(*[sizes[c] for c in result_subs])
    return _permute_to(product, result_subs, out)

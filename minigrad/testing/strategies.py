"""Hypothesis strategies for property-testing your own ops, and a one-line gradcheck helper.

    import minigrad as mg
    mg.testing.gradcheck_function(MyOp.apply, n_inputs=2)   # raises on a wrong backward

draws, many times: shapes with broadcasting between the inputs and size-1 dims (0-d
included), a memory layout (contiguous, permuted = Fortran-ordered, or strided = a step
slice of a larger buffer), and float64 values that are well-conditioned: in [lo, hi] and at
least `gap` away from the kinks you name (0 for relu/abs), optionally pairwise distinct (no
ties for max/sort/pooling). Each draw is checked with `mg.gradcheck`; hypothesis shrinks a
failure to the smallest example and prints it.

Needs the test extra (`pip install minigrad[test]`, i.e. hypothesis); importing minigrad
does not.
"""

import numpy as np

LAYOUTS = ("contiguous", "permuted", "strided")


def with_layout(array, kind):
    """The same values as `array`, stored with the requested (possibly non-contiguous)
    layout: "contiguous", "permuted" (Fortran order) or "strided" (every other element of a
    wider buffer)."""
    if array.ndim == 0 or kind == "contiguous":
        return np.array(array, order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
    if kind == "permuted":
        return np.asfortranarray(array)
    big = np.full(array.shape[:-1] + (2 * array.shape[-1] + 1,), np.nan)
    big[..., 1::2] = array
    return big[..., 1::2]


def well_conditioned(rng, shape, lo=-2.0, hi=2.0, avoid=(), gap=0.1, distinct=False):
    """float64 values in [lo, hi], each at least `gap` from every point in `avoid`; with
    distinct=True also pairwise at least `gap` apart (a shuffled grid; squeezed closer when
    2 * gap * size does not fit in [lo, hi])."""
    n = int(np.prod(shape, dtype=np.int64))
    if distinct:
        grid = np.arange(n) * (2 * gap) + rng.uniform(0, 0.5 * gap)
        x = lo + (grid if n * 2 * gap <= hi - lo else grid * (hi - lo) / (n * 2 * gap))
        x = rng.permutation(x)
    else:
        x = rng.uniform(lo, hi, n)
    for p in avoid:
        near = np.abs(x - p) < gap
        x = np.where(near, p + np.where(x >= p, 1.5, -1.5) * gap, x)
    return x.reshape(shape)


def shapes(min_dims=0, max_dims=3, max_side=4):
    """Array shapes with sides 1..max_side (size-1 dims are common), 0-d included."""
    from hypothesis.extra import numpy as hnp

    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def broadcast_shapes(n, min_dims=0, max_dims=3, max_side=4):
    """Tuples of n shapes that broadcast together (e.g. (3, 1, 4), (2, 1), (4,))."""
    from hypothesis.extra import numpy as hnp

    return hnp.mutually_broadcastable_shapes(num_shapes=n, min_dims=min_dims, max_dims=max_dims,
                                             min_side=1, max_side=max_side).map(
        lambda s: tuple(s.input_shapes))


def layouts():
    """One of LAYOUTS."""
    from hypothesis import strategies as st

    return st.sampled_from(LAYOUTS)


def gradcheck_inputs(n_inputs=1, broadcast=True, lo=-2.0, hi=2.0, avoid=(), gap=0.1,
                     distinct=False, max_dims=3, max_side=4, device="cpu"):
    """A tuple of n float64 leaf Tensors with requires_grad: broadcast-compatible shapes
    (or one shape for all when broadcast=False), one drawn layout, well-conditioned values."""
    from hypothesis import strategies as st

    import minigrad as mg

    @st.composite
    def draw(data):
        if n_inputs > 1 and broadcast:
            case = data(broadcast_shapes(n_inputs, max_dims=max_dims, max_side=max_side))
        else:
            case = (data(shapes(max_dims=max_dims, max_side=max_side)),) * n_inputs
        rng = np.random.default_rng(data(st.integers(0, 2**32 - 1)))
        kind = data(layouts())
        arrays = [with_layout(well_conditioned(rng, s, lo, hi, avoid, gap, distinct), kind)
                  for s in case]
        return tuple(mg.from_numpy(a).to(device).requires_grad_() for a in arrays)

    return draw()


def gradcheck_function(fn, n_inputs=1, *, broadcast=True, lo=-2.0, hi=2.0, avoid=(), gap=0.1,
                       distinct=False, max_examples=None, device="cpu", **gradcheck_kwargs):
    """Gradcheck `fn` (e.g. `MyOp.apply`) on hypothesis-drawn inputs (see gradcheck_inputs);
    raises mg.GradcheckError (with hypothesis's smallest failing example) on a wrong backward,
    returns the number of examples checked otherwise. max_examples: default the current
    hypothesis profile's."""
    from hypothesis import HealthCheck, given, settings

    from ..gradcheck import gradcheck

    checked = [0]
    options = dict(deadline=None, database=None, suppress_health_check=list(HealthCheck))
    if max_examples is not None:
        options["max_examples"] = max_examples

    @settings(**options)
    @given(inputs=gradcheck_inputs(n_inputs, broadcast, lo, hi, avoid, gap, distinct,
                                   device=device))
    def check(inputs):
        checked[0] += 1
        gradcheck(fn, inputs, **gradcheck_kwargs)

    check()
    return checked[0]

"""The one check of a 2-D sliding window (conv2d, max_pool2d, avg_pool2d) and its output size.

Every layer that takes kernel_size / stride / padding calls check_window before it allocates or
loops: the public functions in ops/conv.py (errors name e.g. "max_pool2d") and the kernel tables'
argument checks in backend/reference.py, which the numpy, Cython and CUDA kernels all go through
(errors name e.g. "max_pool2d_forward"). The compiled kernels repeat the same bounds at their own
entry (kernels/cpu/checks.pxi), because they are importable on their own.

The rules, PyTorch's where it has one:
  * kernel_size and stride are pairs of positive ints, padding a pair of non-negative ints;
  * pooling pads at most half the kernel (so every window holds a real element);
  * the kernel fits the padded input (H + 2*ph >= KH), so each output size is at least 1;
  * every size, padded size and element count the kernels compute fits in int64: the Cython
    and CUDA kernels index with 64-bit integers, and 1 / (KH*KW) of a product that wrapped
    around gives negative averages.
A stride or window far larger than the input is otherwise legal, as in PyTorch (conv2d with
stride 2**62 on a 4 x 4 image is a 1 x 1 output); the kernels only ever loop over the part of a
window that lies inside the input, so such a window costs nothing.
"""

INT64_MAX = 2**63 - 1


def _pair_values(op, name, pair, least):
    rule = "positive" if least else "non-negative"
    try:
        values = tuple(pair)
    except TypeError:
        values = None
    if values is None or len(values) != 2:
        raise ValueError(f"{op}: {name} must be a pair of {rule} ints, got {pair!r}")
    out = []
    for v in values:
        if isinstance(v, bool) or not hasattr(v, "__index__"):
            raise TypeError(f"{op}: {name} must be a pair of ints, got {tuple(values)!r}")
        v = v.__index__()
        if v < least:
            raise ValueError(f"{op}: {name} must be a pair of {rule} ints, got {tuple(values)}")
        if v > INT64_MAX:
            raise ValueError(f"{op}: {name} {tuple(values)} is too large (each value must fit "
                             f"in int64, at most 2**63 - 1)")
        out.append(v)
    return tuple(out)


def _fits(op, what, value):
    if value > INT64_MAX:
        raise ValueError(f"{op}: {what} = {value} does not fit in int64; the window, stride or "
                         "padding is too large for this input")


# Windows already checked: (op, x_shape, kernel_size, stride, padding, pool, channels_out) ->
# (OH, OW). A training loop checks the same few windows at every kernel call (~5 us each);
# only keys made of tuples of plain ints are stored (a bool or numpy int is checked afresh, so
# that True never passes for 1), and only a bounded number of them.
_CHECKED = {}
_CHECKED_MAX = 4096


def _plain_ints(values):
    return type(values) is tuple and all(type(v) is int for v in values)


def check_window(op, x_shape, kernel_size, stride, padding, *, pool, channels_out=None):
    """Validate a window over an NCHW input and return the output's (OH, OW) (cached for
    plain int tuples: see _CHECKED)."""
    key = (op, x_shape, kernel_size, stride, padding, pool, channels_out)
    plain = (all(map(_plain_ints, key[1:5])) and type(pool) is bool
             and (channels_out is None or type(channels_out) is int))
    if plain and key in _CHECKED:
        return _CHECKED[key]
    out = _check_window(op, x_shape, kernel_size, stride, padding, pool=pool,
                        channels_out=channels_out)
    if plain and len(_CHECKED) < _CHECKED_MAX:
        _CHECKED[key] = out
    return out


def _check_window(op, x_shape, kernel_size, stride, padding, *, pool, channels_out=None):
    """Validate a window over an NCHW input and return the output's (OH, OW).

    Args:
        op: the name errors start with.
        x_shape: the input's (N, C, H, W).
        kernel_size, stride, padding: pairs of ints (already normalised by the caller).
        pool: True for pooling (padding at most half the kernel), False for convolution.
        channels_out: conv2d's O, so the output's element count is checked too.
    Raises:
        TypeError: a parameter is not a pair of ints.
        ValueError: a parameter is out of range, the kernel does not fit the padded input, or a
            size the kernels compute does not fit in int64.
    """
    kernel_size = _pair_values(op, "kernel_size", kernel_size, 1)
    stride = _pair_values(op, "stride", stride, 1)
    padding = _pair_values(op, "padding", padding, 0)
    N, C, H, W = (int(d) for d in x_shape)
    if pool and any(2 * p > k for p, k in zip(padding, kernel_size)):
        raise ValueError(f"{op}: padding {padding} must be at most half of kernel_size "
                         f"{kernel_size}")
    padded = (H + 2 * padding[0], W + 2 * padding[1])
    for size in padded:
        _fits(op, "padded input size", size)
    if padded[0] < kernel_size[0] or padded[1] < kernel_size[1]:
        raise ValueError(f"{op}: kernel {kernel_size} is larger than the padded input {padded} "
                         f"(input {(H, W)}, padding {padding})")
    OH = (padded[0] - kernel_size[0]) // stride[0] + 1
    OW = (padded[1] - kernel_size[1]) // stride[1] + 1
    KH, KW = kernel_size
    _fits(op, f"kernel area {KH} * {KW}", KH * KW)
    _fits(op, f"output plane {OH} * {OW}", OH * OW)
    _fits(op, f"output elements {N} * {C} * {OH} * {OW}", N * C * OH * OW)
    if not pool:
        # conv's im2col matrix: (N, C*KH*KW, OH*OW), and its output (N, O, OH, OW).
        _fits(op, f"im2col size {N} * {C} * {KH} * {KW} * {OH} * {OW}", N * C * KH * KW * OH * OW)
        if channels_out is not None:
            _fits(op, f"output elements {N} * {channels_out} * {OH} * {OW}",
                  N * int(channels_out) * OH * OW)
    return OH, OW

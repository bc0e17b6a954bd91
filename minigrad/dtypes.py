"""dtypes and PyTorch's type-promotion rules.

minigrad's dtypes are numpy dtypes, so `mg.float32 == np.float32` holds and numpy dtypes
are accepted wherever a dtype is asked for.
"""

import numpy as np

float32 = np.dtype("float32")
float64 = np.dtype("float64")
int64 = np.dtype("int64")
bool = np.dtype("bool")  # noqa: A001  (shadows the builtin only inside this module's namespace)
default_float = float32

_BUILTIN_BOOL = type(True)


def as_dtype(dtype, op="dtype"):
    """Normalise anything numpy understands as a dtype; TypeError otherwise."""
    if dtype is None:
        return None
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a dtype") from None
    if dt.kind not in "biuf":
        raise TypeError(f"{op}: unsupported dtype {dt} (use float32, float64, int64 or bool)")
    return dt


def check_int_range(op, values, dtype):
    """Raise RuntimeError (as PyTorch) when an integer in `values` does not fit integer
    `dtype`; numpy would wrap it silently (2**63 -> -2**63). Non-integer dtypes: no check."""
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return
    info = np.iinfo(dtype)
    for value in values:
        if isinstance(value, (int, np.integer)) and not isinstance(value, (_BUILTIN_BOOL, np.bool_)) \
                and not info.min <= int(value) <= info.max:
            raise RuntimeError(f"{op}: value {int(value)} cannot be converted to type {dtype} "
                               "without overflow")


def category(dtype) -> int:
    """0 for bool, 1 for integers, 2 for floating point (PyTorch's promotion categories)."""
    kind = np.dtype(dtype).kind
    return 0 if kind == "b" else 2 if kind == "f" else 1


def scalar_dtype(value):
    """The dtype PyTorch gives a Python number: bool, int64 or the default float."""
    if isinstance(value, (_BUILTIN_BOOL, np.bool_)):
        return bool
    if isinstance(value, (int, np.integer)):
        return int64
    if isinstance(value, (float, np.floating)):
        return default_float
    raise TypeError(f"expected a number, got {type(value).__name__}")


def result_type(dimensioned=(), zero_dim=(), scalars=()):
    """PyTorch's promotion: dimensioned tensors first, then 0-d tensors, then Python numbers.

    A lower tier only changes the result when its category (bool < int < float) is higher,
    so `float32_tensor * 2.5` stays float32 and `int_tensor * 2.5` becomes float32.
    """
    result = None
    for tier in (dimensioned, zero_dim):
        if not tier:
            continue
        # Within a tier the highest category wins outright (int64 with float32 is float32,
        # as PyTorch; numpy would widen to float64); same-category dtypes widen as numpy does.
        top = max(category(d) for d in tier)
        tier_dtype = np.result_type(*[d for d in tier if category(d) == top])
        if result is None or category(tier_dtype) > category(result):
            result = tier_dtype
    if scalars:
        top = max(scalars, key=lambda v: category(scalar_dtype(v)))
        if result is None or category(scalar_dtype(top)) > category(result):
            result = scalar_dtype(top)
    return np.dtype(result)

"""The safetensors format for `mg.save` / `mg.load` (a path ending in .safetensors, or
format="safetensors"): a flat dict of name -> tensor that PyTorch's and Hugging Face's tooling
read (`safetensors.torch.load_file`) and write (`safetensors.torch.save_file`).

A safetensors file is an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw bytes; it holds no code and no nesting.
Reading and writing go through the `safetensors` package (an optional extra:
`pip install safetensors`); without it both raise ImportError saying so. Nested state dicts
(an optimizer's) need the default minigrad format.
"""

import numpy as np

INSTALL_HINT = ("the safetensors format needs the 'safetensors' package: pip install "
                "safetensors (or install minigrad with its [safetensors] extra)")


def _numpy_api(op):
    try:
        import safetensors.numpy
    except ImportError as e:
        raise ImportError(f"{op}: {INSTALL_HINT}") from e
    return safetensors.numpy


def encode(obj, describe_unsupported) -> bytes:
    """The bytes of a safetensors file holding `obj`, a flat dict of str -> Tensor or numpy
    array. `describe_unsupported(value, keys)` is the zip format's error for a foreign value
    (so a torch tensor gets the same advice in both formats)."""
    import minigrad

    if not isinstance(obj, dict):
        raise TypeError(f"save: the safetensors format holds a flat dict of str -> tensor, got "
                        f"{type(obj).__name__}")
    arrays = {}
    for key, value in obj.items():
        if not isinstance(key, str):
            raise TypeError(f"save: safetensors keys must be str, got {type(key).__name__} "
                            f"({key!r})")
        if isinstance(value, minigrad.Tensor):
            array = value.detach().cpu().numpy()
        elif isinstance(value, np.ndarray):
            array = value
        elif isinstance(value, (dict, list, tuple)):
            raise TypeError(f"save: the safetensors format holds a flat dict of str -> tensor, "
                            f"but [{key!r}] is a {type(value).__name__}; save nested state "
                            "dicts (an optimizer's, a training checkpoint) in the default "
                            "minigrad format (any other file extension)")
        else:
            raise describe_unsupported(value, [key])
        if array.dtype.kind not in "biuf":
            raise TypeError(f"save: safetensors cannot hold [{key!r}] of dtype {array.dtype}")
        array = array.astype(array.dtype.newbyteorder("<"), copy=False)
        # (not np.ascontiguousarray: it turns a 0-d array into shape (1,))
        arrays[key] = array if array.flags.c_contiguous else array.copy(order="C")
    # The package is needed only now: a value it could never hold is named first, with or
    # without it installed.
    return _numpy_api("save").save(arrays)


def decode(data: bytes) -> dict:
    """{name: numpy array} from the bytes of a safetensors file, names in sorted order (the
    order the format stores them in).
    Raises ValueError (with the package's reason) for a damaged or foreign file."""
    api = _numpy_api("load")
    import safetensors

    try:
        arrays = api.load(bytes(data))
    except (safetensors.SafetensorError, ValueError, TypeError, OverflowError) as e:
        raise ValueError(f"{type(e).__name__}: {e}") from None
    return {name: np.asarray(arrays[name]) for name in sorted(arrays)}


def looks_like_safetensors(head: bytes) -> bool:
    """Whether a file starting with `head` (at least 9 bytes) may be a safetensors file: a
    plausible header length followed by the JSON header's opening brace."""
    if len(head) < 9:
        return False
    size = int.from_bytes(head[:8], "little")
    return 2 <= size < 100_000_000 and head[8:9] == b"{"

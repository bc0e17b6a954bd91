"""mg.save / mg.load: checkpoints of state dicts in a documented zip format, without pickle.

Format "minigrad-checkpoint", version 1. A checkpoint is an uncompressed zip archive that
`np.load` also opens as an ordinary .npz:

    manifest.json           the structure, as UTF-8 JSON (below)
    arr_0.npy, arr_1.npy    one NumPy .npy file per Tensor or array: a short text header
    ...                     (dtype, shape, order) followed by the raw element bytes

manifest.json (compact; to read one: `unzip -p ckpt manifest.json | python -m json.tool`) is
`{"format": "minigrad-checkpoint", "version": 1, "root": NODE}`, where NODE is a JSON object
whose "type" tag says what it stands for:

    {"type": "none"}                               None
    {"type": "bool", "value": true}                True / False (never confused with 1 / 0)
    {"type": "int", "value": 3}                    int
    {"type": "float", "value": "0.1"}              float, as Python's repr: exact, and JSON
                                                   has no inf or nan ("inf", "nan" are fine)
    {"type": "str", "value": "weight"}             str
    {"type": "list", "items": [NODE, ...]}         list
    {"type": "tuple", "items": [NODE, ...]}        tuple (kept apart from list)
    {"type": "dict", "items": [[KEY, NODE], ...]}  dict, in order; KEY is a "str" or "int"
                                                   node, so {0: ...} and {"0": ...} differ
    {"type": "tensor", "array": "arr_0", "dtype": "float32", "shape": [2, 3]}
    {"type": "ndarray", "array": "arr_1", "dtype": "int64", "shape": [4]}
    {"type": "numpy_scalar", "array": "arr_2", "dtype": "float32", "shape": []}

"array" names the .npy member (without ".npy"); "dtype" and "shape" repeat its header so
that a mismatched or swapped member is caught. Arrays may be bool, integer, unsigned,
floating or complex: the kinds every .npy reader understands and none that need pickle.

Saving writes a temporary file beside the target, fsyncs it and renames it over the target
(os.replace is atomic), so a crash mid-save leaves the previous checkpoint intact. Loading
never runs code: JSON plus np.load(allow_pickle=False), and every tag, name, dtype and shape
is checked, so a truncated, foreign or tampered file raises ValueError naming the path.
"""

import contextlib
import json
import os
import secrets
import zipfile
import zlib
from typing import Any

import numpy as np

import minigrad

FORMAT_NAME = "minigrad-checkpoint"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ARRAY_KINDS = "biufc"  # bool, int, uint, float, complex: plain bytes, portable, no pickle
# Fixed member timestamps: saving the same state twice gives byte-identical files.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def save(obj: Any, path: str | os.PathLike) -> None:
    """Write `obj` to `path` atomically (see the module docstring for the format).

    Args:
        obj: any nesting of dict (str or int keys), list and tuple over Tensors, numpy
            arrays and numpy scalars, int, float, bool, str and None, e.g.
            `{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}`.
            Tensors are saved by value (detached, copied to the CPU). Subclasses of dict,
            list and tuple (OrderedDict, namedtuple) are saved as the base type, and an
            object that appears twice is saved twice.
        path: the file to write; it is replaced only once the new one is complete.

    Raises:
        TypeError: an unsupported type, naming it and where it sits, e.g.
            `save: unsupported type set at ['optimizer']['state'][0]`.
        ValueError: a container that contains itself.
    """
    arrays: list[np.ndarray] = []
    root = _encode(obj, arrays, [], set())
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "root": root}
    manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()
    # Everything is encoded before the disk is touched, so a TypeError leaves no file behind.
    _write_atomically(os.fspath(path), manifest_bytes, arrays)


def load(path: str | os.PathLike) -> Any:
    """Read a checkpoint written by `save`.

    Tensors come back as new CPU Tensors with their saved dtype and requires_grad=False
    (move them with `.to(device)` and load them into a module with `load_state_dict`);
    numpy arrays come back as arrays, tuples as tuples and dict keys with their types.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: the file is truncated, not a minigrad checkpoint (another zip, a plain
            .npz, a text file), from a newer format version, or its manifest does not match
            its contents. The message names the path and the problem.
    """
    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            return _read(f)
    except _FormatError as e:
        raise ValueError(f"load: {name!r} is not a valid minigrad checkpoint: {e}") from None
    # What a damaged zip or .npy member raises deep inside zipfile and numpy; object arrays
    # give numpy's ValueError "Object arrays cannot be loaded when allow_pickle=False".
    except (zipfile.BadZipFile, EOFError, zlib.error, ValueError, RecursionError) as e:
        raise ValueError(f"load: {name!r} is damaged or not a minigrad checkpoint: "
                         f"{type(e).__name__}: {e}") from e


class _FormatError(Exception):
    """A well-formed file whose contents are not a valid checkpoint; load re-raises it as
    ValueError with the path."""


def _where(keys: list) -> str:
    """['optimizer']['state'][0] style location of a value inside the saved object."""
    return "".join(f"[{k!r}]" for k in keys) if keys else "the top level"


def _encode(obj: Any, arrays: list, keys: list, open_containers: set) -> dict:
    """Turn `obj` into a manifest node, appending the arrays it holds to `arrays`."""
    # Order matters: bool is an int subclass, and np.float64 is a float subclass.
    if obj is None:
        return {"type": "none"}
    if isinstance(obj, bool):
        return {"type": "bool", "value": obj}
    if isinstance(obj, np.generic):
        return _encode_array(np.asarray(obj), "numpy_scalar", arrays, keys)
    if isinstance(obj, int):
        return {"type": "int", "value": int(obj)}
    if isinstance(obj, float):
        return {"type": "float", "value": repr(float(obj))}
    if isinstance(obj, str):
        return {"type": "str", "value": str(obj)}
    if isinstance(obj, minigrad.Tensor):
        return _encode_array(obj.detach().cpu().numpy(), "tensor", arrays, keys)
    if isinstance(obj, np.ndarray):
        return _encode_array(obj, "ndarray", arrays, keys)
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in open_containers:
            raise ValueError(f"save: {type(obj).__name__} at {_where(keys)} contains itself")
        open_containers.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = [[_encode_key(k, keys), _encode(v, arrays, keys + [k], open_containers)]
                         for k, v in obj.items()]
                return {"type": "dict", "items": items}
            tag = "tuple" if isinstance(obj, tuple) else "list"
            return {"type": tag, "items": [_encode(v, arrays, keys + [i], open_containers)
                                           for i, v in enumerate(obj)]}
        finally:
            open_containers.discard(id(obj))
    raise TypeError(f"save: unsupported type {type(obj).__name__} at {_where(keys)}")


def _encode_key(key: Any, keys: list) -> dict:
    # bool keys would come back as ints, and numpy integers as Python ints: refuse both.
    if isinstance(key, str):
        return {"type": "str", "value": str(key)}
    if isinstance(key, int) and not isinstance(key, bool):
        return {"type": "int", "value": int(key)}
    raise TypeError(f"save: unsupported dict key type {type(key).__name__} ({key!r}) at "
                    f"{_where(keys)}; keys must be str or int")


def _encode_array(array: np.ndarray, tag: str, arrays: list, keys: list) -> dict:
    if array.dtype.kind not in _ARRAY_KINDS:
        raise TypeError(f"save: unsupported array dtype {array.dtype} at {_where(keys)}; "
                        "only bool, integer, floating and complex arrays can be saved")
    arrays.append(array)
    return {"type": tag, "array": f"arr_{len(arrays) - 1}", "dtype": array.dtype.name,
            "shape": list(array.shape)}


def _write_atomically(path: str, manifest: bytes, arrays: list) -> None:
    """Write the zip to a temporary file in the target's folder, then rename it over `path`."""
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # O_EXCL: never write into someone else's file; mode 0o666 lets the umask apply, as for
    # any new file (tempfile.mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_zip(f, manifest, arrays)
            f.flush()
            os.fsync(f.fileno())  # the data must be on disk before the rename can expose it
        os.replace(tmp, path)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


def _write_zip(f, manifest: bytes, arrays: list) -> None:
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr(zipfile.ZipInfo(_MANIFEST, date_time=_ZIP_DATE), manifest)
        for i, array in enumerate(arrays):
            # force_zip64: the size is unknown when the member is opened (as np.savez does).
            with archive.open(zipfile.ZipInfo(f"arr_{i}.npy", date_time=_ZIP_DATE), "w",
                              force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable. Best effort: Windows cannot open a folder, and some
    file systems refuse to fsync one; the new file is complete and in place either way."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _read(f) -> Any:
    if not zipfile.is_zipfile(f):
        raise _FormatError("not a zip archive (the file is truncated, or of another kind)")
    f.seek(0)
    archive = np.load(f, allow_pickle=False)
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise _FormatError("not a zip archive of .npy files")
    with archive:
        if _MANIFEST not in archive.files:
            raise _FormatError(f"it has no {_MANIFEST} (a plain .npz or another zip archive?)")
        raw = archive[_MANIFEST]
        try:
            manifest = json.loads(raw) if isinstance(raw, bytes) else None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _FormatError(f"{_MANIFEST} is not valid JSON: {e}") from None
        _check_header(manifest)
        return _decode(manifest["root"], archive, [])


def _check_header(manifest: Any) -> None:
    if not isinstance(manifest, dict) or "root" not in manifest:
        raise _FormatError(f"{_MANIFEST} is not a JSON object with format, version and root")
    if manifest.get("format") != FORMAT_NAME:
        raise _FormatError(f"{_MANIFEST} has format {manifest.get('format')!r}, "
                           f"expected {FORMAT_NAME!r}")
    version = manifest.get("version")
    if type(version) is not int or version != FORMAT_VERSION:  # not 1.0, not True
        newer = type(version) is int and version > FORMAT_VERSION
        raise _FormatError(f"format version {version!r} is not supported (this minigrad reads "
                           f"version {FORMAT_VERSION}" + ("; it was written by a newer minigrad)"
                                                          if newer else ")"))


def _decode(node: Any, archive, keys: list) -> Any:
    """Rebuild the value that manifest node `node` describes."""
    tag = node.get("type") if isinstance(node, dict) else None
    value = node.get("value") if isinstance(node, dict) else None
    if tag == "none":
        return None
    if tag == "bool" and isinstance(value, bool):
        return value
    if tag == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tag == "float" and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    if tag == "str" and isinstance(value, str):
        return value
    items = node.get("items") if isinstance(node, dict) else None
    if tag in ("list", "tuple") and isinstance(items, list):
        values = [_decode(item, archive, keys + [i]) for i, item in enumerate(items)]
        return tuple(values) if tag == "tuple" else values
    if tag == "dict" and isinstance(items, list):
        result = {}
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _FormatError(f"a dict item at {_where(keys)} is not a [key, value] pair")
            key = _decode_key(pair[0], keys)
            result[key] = _decode(pair[1], archive, keys + [key])
        return result
    if tag in ("tensor", "ndarray", "numpy_scalar"):
        array = _read_array(node, archive, keys)
        if tag == "numpy_scalar":
            return array[()]
        return _to_tensor(array, keys) if tag == "tensor" else array
    if tag in ("none", "bool", "int", "float", "str", "list", "tuple", "dict"):
        raise _FormatError(f"malformed {tag} node at {_where(keys)}: {node!r}")
    raise _FormatError(f"unknown type tag {tag!r} at {_where(keys)}")


def _to_tensor(array: np.ndarray, keys: list):
    # A file written on a big-endian machine holds big-endian arrays; tensors want native.
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    try:
        return minigrad.from_numpy(array)
    except (TypeError, ValueError) as e:  # e.g. a complex array tagged as a tensor
        raise _FormatError(f"the tensor at {_where(keys)} cannot be rebuilt: {e}") from None


def _decode_key(node: Any, keys: list) -> str | int:
    tag = node.get("type") if isinstance(node, dict) else None
    value = node.get("value") if isinstance(node, dict) else None
    if (tag == "str" and isinstance(value, str)) or (
            tag == "int" and isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _FormatError(f"bad dict key {node!r} at {_where(keys)} (must be a str or int node)")


def _read_array(node: dict, archive, keys: list) -> np.ndarray:
    name = node.get("array")
    # archive.files lists members without ".npy"; the manifest itself is not an array.
    if not isinstance(name, str) or name == _MANIFEST or name not in archive.files:
        raise _FormatError(f"the {node['type']} at {_where(keys)} refers to array {name!r}, "
                           "which the archive does not hold")
    array = archive[name]
    if not isinstance(array, np.ndarray) or array.dtype.kind not in _ARRAY_KINDS:
        raise _FormatError(f"member {name!r} at {_where(keys)} is not an array of a supported "
                           "dtype (bool, integer, floating or complex)")
    if array.dtype.name != node.get("dtype") or list(array.shape) != node.get("shape"):
        raise _FormatError(f"member {name!r} at {_where(keys)} holds {array.dtype.name} "
                           f"{list(array.shape)}, but the manifest says {node.get('dtype')} "
                           f"{node.get('shape')}")
    return array

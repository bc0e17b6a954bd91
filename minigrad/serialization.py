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
                                                   a CPU Tensor; one saved from a GPU also has
                                                   "device": "cuda:0" (load restores it)
    {"type": "ndarray", "array": "arr_1", "dtype": "int64", "shape": [4]}
    {"type": "numpy_scalar", "array": "arr_2", "dtype": "float32", "shape": []}

"array" names the .npy member (without ".npy"); "dtype" and "shape" repeat its header so
that a mismatched or swapped member is caught. Arrays may be bool, integer, unsigned,
floating or complex: the kinds every .npy reader understands and none that need pickle.

`save` and `load` also take a file-like object (io.BytesIO, an open file) instead of a path;
that is written directly, not atomically. A path ending in ".safetensors", or
format="safetensors", selects the safetensors format instead (minigrad/safetensors_format.py:
flat dicts of tensors, for exchange with PyTorch / Hugging Face tooling).

Saving writes a temporary file `.mg-<hash of the name>-<random>.mgtmp` beside the target,
fsyncs it and renames it over the target (os.replace is atomic), so a crash mid-save leaves
the previous checkpoint intact; the next save of the same target deletes temporary files that
a killed save left behind. A symlink is followed; a folder, FIFO or device is refused. Loading
never runs code (JSON, and .npy headers parsed by numpy without pickle), reads a regular file
only and never more than its size (stored members only, each once), and checks every tag,
name, dtype and shape, so a truncated, foreign or tampered file raises ValueError naming the
path.
"""

import contextlib
import hashlib
import io
import json
import math
import os
import secrets
import stat
import struct
import time
import zipfile
import zlib
from typing import Any

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

import numpy as np

import minigrad

from . import safetensors_format

FORMAT_NAME = "minigrad-checkpoint"
FORMAT_VERSION = 1
_MANIFEST = "manifest.json"
_ARRAY_KINDS = "biufc"  # bool, int, uint, float, complex: plain bytes, portable, no pickle
# Fixed member timestamps: saving the same state twice gives byte-identical files.
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


FORMATS = ("minigrad", "safetensors")


def save(obj: Any, path, *, format: str | None = None) -> None:  # noqa: A002 (torch's name)
    """Write `obj` to `path` atomically (see the module docstring for the format).

    Args:
        obj: any nesting of dict (str or int keys), list and tuple over Tensors, numpy
            arrays and numpy scalars, int, float, bool, str and None, e.g.
            `{"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}`.
            Tensors are saved by value (detached, copied to the CPU) with the device they
            were on, which `load` restores (or remaps: `map_location`). Subclasses of dict,
            list and tuple (OrderedDict, namedtuple) are saved as the base type, and an
            object that appears twice is saved twice. For the safetensors format: a flat
            dict of str -> Tensor or numpy array (e.g. `model.state_dict()`).
        path: the file to write (str or os.PathLike; it is replaced only once the new one is
            complete), or a writable binary file-like object such as io.BytesIO.
        format: "minigrad" (the zip format above) or "safetensors". Default: "safetensors"
            for a path ending in .safetensors, else "minigrad".

    Raises:
        TypeError: an unsupported type, naming it and where it sits, e.g.
            `save: unsupported type set at ['optimizer']['state'][0]`; a PyTorch tensor is
            named as such, with how to convert it.
        ValueError: a container that contains itself; an unknown format.
        ImportError: format "safetensors" without the `safetensors` package.
    """
    fmt = _choose_format(path, format, "save")
    # Everything is encoded before the disk is touched, so a TypeError leaves no file behind.
    if fmt == "safetensors":
        data = safetensors_format.encode(obj, _unsupported)

        def write(f):
            f.write(data)
    else:
        arrays: list[np.ndarray] = []
        root = _encode(obj, arrays, [], set())
        manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "root": root}
        manifest_bytes = json.dumps(manifest, separators=(",", ":")).encode()

        def write(f):
            _write_zip(f, manifest_bytes, arrays)
    if _is_file_like(path, "write"):
        write(path)
        return
    _write_atomically(os.fspath(path), write)


def _is_file_like(obj, method: str) -> bool:
    return not isinstance(obj, (str, bytes, os.PathLike)) and callable(getattr(obj, method, None))


def _choose_format(path, fmt, op) -> str:
    if fmt is None:
        if isinstance(path, (str, os.PathLike)) and \
                os.fspath(path).lower().endswith(".safetensors"):
            return "safetensors"
        return "minigrad"
    if fmt not in FORMATS:
        raise ValueError(f"{op}: unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    return fmt


def _name_of(f) -> str:
    """How an error names a file-like object: its .name, else its type."""
    name = getattr(f, "name", None)
    return name if isinstance(name, str) else f"<{type(f).__name__}>"


def load(path, map_location=None, *, format: str | None = None) -> Any:  # noqa: A002
    """Read a checkpoint written by `save` (or a safetensors file).

    Tensors come back as new Tensors with their saved dtype and requires_grad=False, on the
    device they were saved from, as torch.load does (load them into a module with
    `load_state_dict`); numpy arrays come back as arrays, tuples as tuples and dict keys with
    their types. A safetensors file gives a dict of name -> CPU Tensor.

    Args:
        path: a str or os.PathLike, or a readable binary file-like object (io.BytesIO).
        map_location: where the tensors go instead: a device ("cpu", "cuda:0", a mg.Device)
            for all of them, or a dict mapping saved device names to devices, e.g.
            `{"cuda:0": "cpu"}`. `map_location="cpu"` loads a CUDA checkpoint on a machine
            without a GPU.
        format: "minigrad" or "safetensors"; default: by the extension, else by the contents.

    Reading is bounded by the file's size: only a regular file is opened, every member must
    be stored (not compressed), appear once, lie inside the file and be referenced once, and
    each .npy header's shape must match the bytes that follow it, all checked before an array
    is allocated.

    Raises:
        FileNotFoundError: no file at `path`.
        ValueError: `path` is not a regular file (a device, pipe or folder), or the file is
            truncated, not a minigrad checkpoint (another zip, a plain .npz, a text file), from
            a newer format version, or its manifest does not match its contents. The message
            names the path and the problem.
        RuntimeError: a tensor was saved on a CUDA device that is not available here (and
            map_location does not move it).
        ImportError: a safetensors file without the `safetensors` package.
    """
    fmt = format if format is None else _choose_format(path, format, "load")
    if fmt is None and not _is_file_like(path, "read"):
        fmt = "safetensors" if _choose_format(path, None, "load") == "safetensors" else None
    place = _placement(map_location)
    if _is_file_like(path, "read"):
        name = _name_of(path)
        data = path.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError(f"load: {name} returned {type(data).__name__} from read(); open "
                            "the file in binary mode ('rb')")
        return _load_from(io.BytesIO(data), len(data), name, fmt, place)
    name = os.fspath(path)
    with _open_regular_file(name) as f:
        return _load_from(f, os.fstat(f.fileno()).st_size, name, fmt, place)


def _load_from(f, size: int, name: str, fmt, place) -> Any:
    if fmt is None:  # by the contents: a zip starts with "PK"
        head = f.read(16)
        f.seek(0)
        fmt = "safetensors" if not head.startswith(b"PK") and \
            safetensors_format.looks_like_safetensors(head) else "minigrad"
    try:
        if fmt == "safetensors":
            return _read_safetensors(f, size, name, place)
        try:
            return _read(f, size, place)
        except _FormatError as e:
            raise ValueError(f"load: {name!r} is not a valid minigrad checkpoint: {e}") from None
        # What a damaged zip or .npy member raises deep inside zipfile and numpy: BadZipFile
        # (also for a CRC mismatch), EOFError, zlib.error, struct.error, ValueError (a bad .npy
        # header), RecursionError (deeply nested JSON), NotImplementedError and RuntimeError
        # (an unknown method or encryption flag), OverflowError (absurd header fields) and
        # OSError (a seek to a negative offset).
        except (zipfile.BadZipFile, EOFError, zlib.error, struct.error, ValueError,
                RecursionError, NotImplementedError, RuntimeError, OverflowError, OSError) as e:
            raise ValueError(f"load: {name!r} is damaged or not a minigrad checkpoint: "
                             f"{type(e).__name__}: {e}") from e
    except _DeviceUnavailable as e:
        raise RuntimeError(f"load: {name!r}: {e}") from None


def _read_safetensors(f, size: int, name: str, place) -> dict:
    """{name: Tensor} of a safetensors file (read whole: it is at most `size` bytes)."""
    try:
        arrays = safetensors_format.decode(f.read(size))
        return {key: _to_tensor(array, [key], place("cpu")) for key, array in arrays.items()}
    except (ValueError, _FormatError) as e:
        raise ValueError(f"load: {name!r} is not a valid safetensors file: {e}") from None


class _DeviceUnavailable(Exception):
    """A saved device that cannot be used here; load re-raises it as RuntimeError (kept apart
    from the RuntimeErrors of a damaged zip, which become ValueError)."""


def _placement(map_location):
    """A function saved device name -> the Device its tensors load onto, per map_location."""
    from .backend.device import Device, as_device

    if map_location is None:
        mapping = {}
    elif isinstance(map_location, (str, Device)):
        target = as_device(map_location)  # fails now, before reading, if it is unusable
        return lambda saved: target
    elif isinstance(map_location, dict):
        mapping = {str(Device(k)): Device(v) for k, v in map_location.items()}
    else:
        raise TypeError(f"load: map_location must be a device (str or mg.Device) or a dict of "
                        f"them, got {type(map_location).__name__}")

    def place(saved: str):
        device = mapping.get(saved, Device(saved))
        try:
            return as_device(device)
        except RuntimeError as e:
            hint = (" (to load it on this machine's CPU: mg.load(path, map_location='cpu'))"
                    if device.type == "cuda" else "")
            raise _DeviceUnavailable(f"it holds tensors saved on {saved}, which cannot be "
                                     f"used here: {e}{hint}") from None
    return place


def _open_regular_file(name: str):
    """Open `name` for reading, refusing anything but a regular file. O_NONBLOCK: opening a
    FIFO must not wait for a writer (it is refused right after); no effect on regular files."""
    fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise ValueError(f"load: {name!r} is not a regular file (a device, pipe or folder); "
                         "a checkpoint is a file written by mg.save")
    return os.fdopen(fd, "rb")


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
        node = _encode_array(obj.detach().cpu().numpy(), "tensor", arrays, keys)
        if obj.device.type != "cpu":  # CPU tensors: no key (files as before the key existed)
            node["device"] = str(obj.device)
        return node
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
    raise _unsupported(obj, keys)


def _unsupported(obj: Any, keys: list) -> TypeError:
    """The TypeError for a value save cannot hold; PyTorch tensors get told how to convert."""
    kind = type(obj)
    if kind.__module__.split(".")[0] == "torch" and hasattr(obj, "__dlpack__"):
        return TypeError(
            f"save: the value at {_where(keys)} is a PyTorch tensor ({kind.__module__}."
            f"{kind.__name__}); minigrad does not import torch. Convert it first: "
            "mg.from_dlpack(t.detach()) (no copy) or t.detach().cpu().numpy(); for a whole "
            "state dict {k: mg.from_dlpack(v.detach()) for k, v in sd.items()}, or write it "
            "with safetensors.torch.save_file and read that with mg.load")
    return TypeError(f"save: unsupported type {kind.__name__} at {_where(keys)}")


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


def _write_atomically(path: str, write) -> None:
    """Write the zip to a temporary file in the target's folder, then rename it over the target.

    A symlink is followed (its target is replaced, the link stays); anything else that is not
    a regular file is refused. Temporary files that an earlier, killed save of the same target
    left behind are removed first.
    """
    target = _regular_target(path)
    folder = os.path.dirname(target)
    prefix = _temp_prefix(target)
    _remove_stale_temp_files(folder, prefix)
    tmp = os.path.join(folder, f"{prefix}{secrets.token_hex(4)}{_TEMP_SUFFIX}")
    # O_EXCL: never write into someone else's file; mode 0o666 lets the umask apply, as for
    # any new file (tempfile.mkstemp would force 0o600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            _hold_lock(f)  # tells a later save that this temporary file is still being written
            write(f)
            f.flush()
            os.fsync(f.fileno())  # the data must be on disk before the rename can expose it
            os.replace(tmp, target)  # while still locked (POSIX renames open files)
    except BaseException:  # KeyboardInterrupt too: never leave the temporary file behind
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_folder(folder)


_TEMP_SUFFIX = ".mgtmp"


def _regular_target(path: str) -> str:
    """The file `save` replaces: `path` with symlinks resolved. Refuses a folder, FIFO, device
    or socket there (replacing one with a regular file would silently break whatever uses it)."""
    target = os.path.realpath(path)
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        return target  # a new file (or a dangling link's target): created by the rename
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode)
                else "a device or socket")
        where = f" (the symlink's target {target!r})" if target != os.path.abspath(path) else ""
        raise ValueError(f"save: {path!r}{where} is {kind}, not a regular file; mg.save only "
                         "creates or replaces regular files")
    return target


def _temp_prefix(target: str) -> str:
    """`.mg-<hash of the file name>-`: the same for every save of `target`, so stale files are
    found, and short whatever the name's length (a 250-character name still has room)."""
    digest = hashlib.sha256(os.path.basename(target).encode("utf-8", "surrogateescape"))
    return f".mg-{digest.hexdigest()[:16]}-"


def _hold_lock(f) -> None:
    """An exclusive advisory lock on the temporary file for as long as it is open. The kernel
    drops it when the process dies, even by SIGKILL, which is how a stale file is told apart."""
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _remove_stale_temp_files(folder: str, prefix: str) -> None:
    """Delete temporary files of earlier saves of the same target whose writer is gone (their
    lock is free). Without fcntl (Windows) only files older than an hour are taken for dead."""
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix) and n.endswith(_TEMP_SUFFIX)]
    except OSError:
        return
    for name in names:
        stale = os.path.join(folder, name)
        with contextlib.suppress(OSError):
            if fcntl is None:
                if time.time() - os.stat(stale).st_mtime > 3600:
                    os.unlink(stale)
                continue
            fd = os.open(stale, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # OSError: a live save holds it
                os.unlink(stale)
            finally:
                os.close(fd)


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


def _read(f, size: int, place) -> Any:
    if not zipfile.is_zipfile(f):
        raise _FormatError("not a zip archive (the file is truncated, or of another kind)")
    f.seek(0)
    with zipfile.ZipFile(f) as archive:
        members = _check_members(archive.infolist(), size)
        if _MANIFEST not in members:
            raise _FormatError(f"it has no {_MANIFEST} (a plain .npz or another zip archive?)")
        raw = archive.read(members[_MANIFEST])
        try:
            manifest = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _FormatError(f"{_MANIFEST} is not valid JSON: {e}") from None
        _check_header(manifest)
        return _decode(manifest["root"], _Arrays(archive, members, place), [])


# A local file header is at least 30 bytes before the member's data.
_LOCAL_HEADER_SIZE = 30


def _check_members(infos: list, size: int) -> dict:
    """{name: ZipInfo} after checking, from the central directory alone, that reading every
    member reads each byte of the file at most once: names are unique, members are stored
    (so their size in the file is their size in memory), not encrypted, and lie inside the
    file without overlapping."""
    members = {}
    for info in infos:
        name = info.filename
        if name in members:
            raise _FormatError(f"member {name!r} appears more than once")
        if info.compress_type != zipfile.ZIP_STORED:
            raise _FormatError(f"member {name!r} is compressed (method {info.compress_type}); "
                               "checkpoints hold only stored (uncompressed) members")
        if info.flag_bits & 0x1:
            raise _FormatError(f"member {name!r} is encrypted")
        end = info.header_offset + _LOCAL_HEADER_SIZE + info.compress_size
        if info.compress_size != info.file_size or end > size:
            raise _FormatError(f"member {name!r} declares {info.file_size} bytes "
                               f"({info.compress_size} in the file), but the file has {size}")
        members[name] = info
    ranges = sorted((i.header_offset, i.header_offset + _LOCAL_HEADER_SIZE + i.compress_size,
                     i.filename) for i in infos)
    for (_, end, first), (start, _, second) in zip(ranges, ranges[1:]):
        if start < end:
            raise _FormatError(f"members {first!r} and {second!r} overlap")
    return members


class _Arrays:
    """Reads the .npy members the manifest names, each at most once."""

    def __init__(self, archive: zipfile.ZipFile, members: dict, place):
        self.archive, self.members, self.used = archive, members, set()
        self.place = place  # saved device name -> Device to load onto

    def read(self, node: dict, keys: list) -> np.ndarray:
        name = node.get("array")
        member = f"{name}.npy" if isinstance(name, str) else None
        if member not in self.members:
            raise _FormatError(f"the {node['type']} at {_where(keys)} refers to array "
                               f"{name!r}, which the archive does not hold")
        if name in self.used:  # else one member could be turned into any number of arrays
            raise _FormatError(f"array {name!r} is referenced more than once (again at "
                               f"{_where(keys)})")
        self.used.add(name)
        info = self.members[member]
        with self.archive.open(info) as f:
            version = np.lib.format.read_magic(f)
            if version not in _NPY_HEADER_READERS:
                raise _FormatError(f"member {member!r} is .npy version {version}, "
                                   "expected 1.0 or 2.0")
            shape, fortran_order, dtype = _NPY_HEADER_READERS[version](f)
            if dtype.kind not in _ARRAY_KINDS or dtype.hasobject:
                raise _FormatError(f"member {member!r} at {_where(keys)} is not an array of a "
                                   "supported dtype (bool, integer, floating or complex)")
            nbytes = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
            held = info.file_size - f.tell()
            if nbytes != held:  # checked before allocating anything
                raise _FormatError(f"member {member!r} declares {dtype.name} {shape} "
                                   f"({nbytes} bytes) but holds {held} bytes of data")
            data = bytearray(nbytes)
            view, done = memoryview(data), 0
            while done < nbytes:
                got = f.readinto(view[done:])
                if not got:
                    raise _FormatError(f"member {member!r} ends early")
                done += got
            f.read(1)  # at the end of the member: zipfile checks its CRC
        array = np.frombuffer(data, dtype).reshape(shape, order="F" if fortran_order else "C")
        if array.dtype.name != node.get("dtype") or list(array.shape) != node.get("shape"):
            raise _FormatError(f"member {name!r} at {_where(keys)} holds {array.dtype.name} "
                               f"{list(array.shape)}, but the manifest says {node.get('dtype')} "
                               f"{node.get('shape')}")
        return array


_NPY_HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}


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


def _decode(node: Any, arrays, keys: list) -> Any:
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
        values = [_decode(item, arrays, keys + [i]) for i, item in enumerate(items)]
        return tuple(values) if tag == "tuple" else values
    if tag == "dict" and isinstance(items, list):
        result = {}
        for pair in items:
            if not (isinstance(pair, list) and len(pair) == 2):
                raise _FormatError(f"a dict item at {_where(keys)} is not a [key, value] pair")
            key = _decode_key(pair[0], keys)
            result[key] = _decode(pair[1], arrays, keys + [key])
        return result
    if tag in ("tensor", "ndarray", "numpy_scalar"):
        array = arrays.read(node, keys)
        if tag == "numpy_scalar":
            return array[()]
        if tag == "ndarray":
            return array
        saved = node.get("device", "cpu")
        try:
            from .backend.device import Device

            saved = str(Device(saved))
        except (TypeError, ValueError):
            raise _FormatError(f"the tensor at {_where(keys)} has a bad device {saved!r}") \
                from None
        return _to_tensor(array, keys, arrays.place(saved))
    if tag in ("none", "bool", "int", "float", "str", "list", "tuple", "dict"):
        raise _FormatError(f"malformed {tag} node at {_where(keys)}: {node!r}")
    raise _FormatError(f"unknown type tag {tag!r} at {_where(keys)}")


def _to_tensor(array: np.ndarray, keys: list, device):
    # A file written on a big-endian machine holds big-endian arrays; tensors want native.
    array = array.astype(array.dtype.newbyteorder("="), copy=False)
    try:
        t = minigrad.from_numpy(array)
    except (TypeError, ValueError) as e:  # e.g. a complex array tagged as a tensor
        raise _FormatError(f"the tensor at {_where(keys)} cannot be rebuilt: {e}") from None
    return t if device.type == "cpu" else t.to(device)


def _decode_key(node: Any, keys: list) -> str | int:
    tag = node.get("type") if isinstance(node, dict) else None
    value = node.get("value") if isinstance(node, dict) else None
    if (tag == "str" and isinstance(value, str)) or (
            tag == "int" and isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _FormatError(f"bad dict key {node!r} at {_where(keys)} (must be a str or int node)")

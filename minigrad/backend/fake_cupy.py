"""A numpy-backed stand-in for CuPy: the emulated CUDA device of MINIGRAD_FAKE_CUDA=1.

With MINIGRAD_FAKE_CUDA=1 (or =N for N devices) set before minigrad is imported, "cuda" tensors
hold `fake_cupy.ndarray`s and `Device("cuda").xp` is this module. It exists so that the CUDA
code paths run, and are tested, on a machine without a GPU. It behaves like CuPy where that
catches bugs a GPU would show:

- Device memory is separate: `asarray`/`array` of host data copy it; `.get()` copies it back.
- No implicit conversion to numpy: `np.asarray(a)` and `a.__array__()` raise TypeError with
  CuPy's message, so a stray numpy call on a device array fails here as it fails on a GPU.
- Mixing in numpy arrays fails: `a + np_array`, `np_array + a`, `fake_cupy.add(a, np_array)` and
  numpy functions given both (through `__array_ufunc__`/`__array_function__`) raise TypeError.
  numpy functions called on device arrays alone dispatch here and return device arrays, as
  numpy does for CuPy arrays (NEP 13/18).
- Reductions and scalar indexing return 0-d device arrays, not numpy scalars.
- Only CuPy's ndarray methods exist (ALLOWED_METHODS); others raise AttributeError.

What it does not emulate: streams, asynchrony, memory limits and CuPy's own kernels' numerics
(it computes with numpy). Exchange with a real CUDA library (DLPack to PyTorch/CuPy) is
impossible: the memory is host memory; `__dlpack__` says so.

The storage of a device array is `a._host`, a numpy array (possibly a non-contiguous view):
the emulated CUDA kernels (backend/cuda.py) read and write it. `ndarray(host)` wraps without
copying.
"""

import operator
import os
import types

import numpy as np

_IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
             "Please use `.get()` to construct a NumPy array explicitly.")


def _device_count():
    value = os.environ.get("MINIGRAD_FAKE_CUDA", "").strip().lower()
    if value in ("", "0", "false", "no", "off"):
        return 0
    return int(value) if value.isdigit() else 1


def _unsupported(obj):
    return TypeError(f"Unsupported type {type(obj)}")


# ---------------------------------------------------------------------------- devices


class _DeviceState:
    current = 0


class Device:
    """cupy.cuda.Device: a device id, usable as a context manager that makes it current."""

    def __init__(self, device=None):
        if device is None:
            device = _DeviceState.current
        device = int(getattr(device, "id", device))
        if not 0 <= device < max(runtime.getDeviceCount(), 1):
            raise RuntimeError(f"cudaErrorInvalidDevice: invalid device ordinal {device} "
                               "(emulated CUDA device)")
        self.id = device
        self._previous = []

    def __enter__(self):
        self._previous.append(_DeviceState.current)
        _DeviceState.current = self.id
        return self

    def __exit__(self, *exc):
        _DeviceState.current = self._previous.pop()

    def use(self):
        _DeviceState.current = self.id

    def synchronize(self):
        pass

    @property
    def compute_capability(self):
        return "emulated"

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return hash(self.id)

    def __repr__(self):
        return f"<CUDA Device {self.id} (emulated)>"


class _Runtime:
    """cupy.cuda.runtime: the calls minigrad makes."""

    @staticmethod
    def getDeviceCount():
        return _device_count()

    @staticmethod
    def getDevice():
        return _DeviceState.current


runtime = _Runtime()
cuda = types.SimpleNamespace(
    Device=Device,
    runtime=runtime,
    get_device_id=lambda: _DeviceState.current,
    is_available=lambda: _device_count() > 0,
    emulated=True,
)


def is_available():
    return _device_count() > 0


# ---------------------------------------------------------------------------- host <-> device


def _to_host(obj):
    """Arguments of a device function: device arrays -> their storage; numpy arrays refused."""
    if isinstance(obj, ndarray):
        return obj._host
    if isinstance(obj, np.ndarray):
        raise _unsupported(obj)
    if type(obj) in (list, tuple):
        return type(obj)(_to_host(o) for o in obj)
    return obj


def _index_to_host(key):
    """An index for __getitem__/__setitem__: like CuPy, numpy index arrays are accepted."""
    if isinstance(key, ndarray):
        return key._host
    if type(key) in (list, tuple):
        return type(key)(_index_to_host(k) for k in key)
    return key


def _to_device(result):
    """Results of a numpy call -> device arrays (numpy scalars become 0-d arrays, as in CuPy)."""
    if isinstance(result, np.ndarray):
        return ndarray(result)
    if isinstance(result, np.generic):
        return ndarray(np.asarray(result))
    if type(result) in (list, tuple):
        return type(result)(_to_device(r) for r in result)
    return result


def _copy_from_host(obj, dtype=None, order="K", ndmin=0):
    """A new device array holding a copy of host data (numpy arrays, lists, scalars)."""
    host = np.array(_index_to_host(obj), dtype=dtype, order=order, copy=True, ndmin=ndmin)
    return ndarray(host)


def asarray(a, dtype=None, order=None, *, blocking=False):
    """cupy.asarray: a device array as is (or cast), host data copied to the device."""
    if isinstance(a, ndarray):
        if dtype is None or np.dtype(dtype) == a.dtype:
            return a if order is None else ndarray(np.asarray(a._host, order=order))
        return ndarray(a._host.astype(dtype, order=order or "K"))
    return _copy_from_host(a, dtype=dtype, order=order or "K")


def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    """cupy.array: copies by default; host data is always copied to the device."""
    if isinstance(obj, ndarray):
        host = obj._host if ndmin <= obj.ndim else obj._host.reshape((1,) * (ndmin - obj.ndim)
                                                                      + obj.shape)
        if not copy and (dtype is None or np.dtype(dtype) == obj.dtype):
            return obj if host is obj._host else ndarray(host)
        return ndarray(np.array(host, dtype=dtype, order=order, copy=True))
    return _copy_from_host(obj, dtype=dtype, order=order, ndmin=ndmin)


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):
    """cupy.asnumpy: a host copy of a device array (numpy input passes through)."""
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    return np.asarray(a, order=order)


def get_array_module(*args):
    """This module if any argument is a device array, else numpy."""
    return _module if any(isinstance(a, ndarray) for a in args) else np


def is_fake(obj):
    """True for arrays of the emulated device."""
    return isinstance(obj, ndarray)


# ---------------------------------------------------------------------------- ndarray

# The numpy.ndarray methods that cupy.ndarray also has (the ones minigrad may call).
ALLOWED_METHODS = frozenset("""
    all any argmax argmin argsort astype clip conj copy cumprod cumsum diagonal dot fill flatten
    item max mean min nonzero prod ptp put ravel repeat reshape round sort squeeze std sum
    swapaxes take tobytes tolist trace transpose var view
""".split())


class ndarray:
    """A device array of the emulated CUDA device; its storage is the numpy array `_host`."""

    __slots__ = ("_host", "_device_id", "__weakref__")
    __array_priority__ = 100  # above numpy's: `np_scalar * a` tries a's reflected op

    def __init__(self, host):
        if not isinstance(host, np.ndarray):
            raise TypeError(f"fake_cupy.ndarray wraps a numpy array, got {type(host).__name__}")
        self._host = host
        self._device_id = _DeviceState.current

    # -- conversions CuPy refuses or makes explicit
    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def get(self, stream=None, order="C", out=None, *, blocking=True):
        """A host (numpy) copy; into `out` when given."""
        if out is not None:
            out[...] = self._host
            return out
        return np.array(self._host, order=order, copy=True)

    def __reduce__(self):
        return (_copy_from_host, (self._host,))

    def __dlpack_device__(self):
        return (2, self._device_id)  # kDLCUDA: what a CuPy array reports

    def __dlpack__(self, stream=None, max_version=None, dl_device=None, copy=None):
        raise BufferError(
            "DLPack export from the emulated CUDA device (MINIGRAD_FAKE_CUDA=1) is not possible: "
            "its arrays are host memory posing as device memory, which a real CUDA library "
            "cannot read. Copy to the CPU first (tensor.cpu() / array.get()).")

    # -- attributes
    shape = property(lambda self: self._host.shape)
    dtype = property(lambda self: self._host.dtype)
    ndim = property(lambda self: self._host.ndim)
    size = property(lambda self: self._host.size)
    itemsize = property(lambda self: self._host.itemsize)
    nbytes = property(lambda self: self._host.nbytes)
    strides = property(lambda self: self._host.strides)
    flags = property(lambda self: self._host.flags)
    T = property(lambda self: ndarray(self._host.T))
    mT = property(lambda self: ndarray(np.swapaxes(self._host, -1, -2)))
    real = property(lambda self: ndarray(self._host.real))
    imag = property(lambda self: ndarray(self._host.imag))
    device = property(lambda self: Device(self._device_id))

    @property
    def base(self):
        return None if self._host.base is None else ndarray(np.asarray(self._host.base))

    def __getattr__(self, name):
        if name not in ALLOWED_METHODS:
            raise AttributeError(f"fake_cupy.ndarray has no attribute {name!r} "
                                 "(not part of the emulated CuPy API)")
        method = getattr(self._host, name)

        def call(*args, **kwargs):
            return _to_device(method(*_to_host(args), **{k: _to_host(v) for k, v in kwargs.items()}))

        call.__name__ = name
        return call

    # -- Python protocols
    def __len__(self):
        return len(self._host)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self._host)))

    def __getitem__(self, key):
        return _to_device(self._host[_index_to_host(key)])

    def __setitem__(self, key, value):
        self._host[_index_to_host(key)] = _index_to_host(value)

    def __bool__(self):
        return bool(self._host)

    def __int__(self):
        return int(self._host)

    def __float__(self):
        return float(self._host)

    def __complex__(self):
        return complex(self._host)

    def __format__(self, spec):
        return format(self._host.item() if self.ndim == 0 else self._host, spec)

    def __repr__(self):
        return repr(self._host)

    def __str__(self):
        return str(self._host)

    def __copy__(self):
        return ndarray(self._host.copy())

    def __deepcopy__(self, memo):
        return ndarray(self._host.copy())

    __hash__ = None

    # -- numpy's dispatch protocols: device arrays only, never numpy arrays mixed in
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(isinstance(x, np.ndarray) for x in inputs + kwargs.get("out", ())):
            return NotImplemented
        try:
            return getattr(_Ufunc(ufunc), method)(*inputs, **kwargs)
        except TypeError:
            return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        if not all(issubclass(t, ndarray) for t in types):
            return NotImplemented  # numpy arrays (or other array types) mixed in
        ours = getattr(_module, func.__name__, None)
        if ours is None or func.__module__.split(".")[:2] not in (["numpy"], ["numpy", "lib"]):
            return NotImplemented
        return ours(*args, **kwargs)


def _operand(other):
    """The right operand of a binary operator: device arrays and scalars; numpy arrays refused."""
    if isinstance(other, ndarray):
        return other._host
    if isinstance(other, (np.ndarray, list, tuple)):
        raise _unsupported(other)
    if isinstance(other, (int, float, complex, bool, np.generic)):
        return other
    return None


def _binary(op, reflected=False):
    def method(self, other):
        value = _operand(other)
        if value is None:
            return NotImplemented
        return _to_device(op(value, self._host) if reflected else op(self._host, value))

    return method


def _inplace(op):
    def method(self, other):
        value = _operand(other)
        if value is None:
            return NotImplemented
        op(self._host, value)
        return self

    return method


def _unary(op):
    return lambda self: _to_device(op(self._host))


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or",
              "xor", "lshift", "rshift"):
    _op = getattr(operator, _name + "_" if _name in ("and", "or") else _name)
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, "i" + _name)))
for _name in ("lt", "le", "gt", "ge", "eq", "ne"):
    setattr(ndarray, f"__{_name}__", _binary(getattr(operator, _name)))
ndarray.__divmod__ = _binary(divmod)
for _name in ("neg", "pos", "abs", "invert"):
    setattr(ndarray, f"__{_name}__", _unary(getattr(operator, _name)))


# ---------------------------------------------------------------------------- functions


class _Ufunc:
    """A numpy ufunc on device arrays (call, .at, .reduce, .accumulate, .outer)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__
        self.nin, self.nout = ufunc.nin, ufunc.nout

    def _run(self, method, args, kwargs):
        kwargs = {k: _to_host(v) for k, v in kwargs.items()}
        return _to_device(getattr(self._ufunc, method)(*_to_host(args), **kwargs))

    def __call__(self, *args, **kwargs):
        return self._run("__call__", args, kwargs)

    def at(self, a, indices, b=None):
        if not isinstance(a, ndarray):
            raise _unsupported(a)
        args = (a._host, _index_to_host(indices)) + (() if b is None else (_to_host(b),))
        self._ufunc.at(*args)

    def reduce(self, *args, **kwargs):
        return self._run("reduce", args, kwargs)

    def accumulate(self, *args, **kwargs):
        return self._run("accumulate", args, kwargs)

    def outer(self, *args, **kwargs):
        return self._run("outer", args, kwargs)

    def __repr__(self):
        return f"<fake_cupy ufunc '{self.__name__}'>"


def _device_function(function):
    """numpy's `function` on device arrays: arguments unwrapped, results wrapped."""

    def call(*args, **kwargs):
        return _to_device(function(*_to_host(args), **{k: _to_host(v) for k, v in kwargs.items()}))

    call.__name__ = call.__qualname__ = getattr(function, "__name__", "function")
    call.__doc__ = f"numpy.{call.__name__} on the emulated CUDA device."
    return call


class _Namespace(types.ModuleType):
    """A numpy submodule (lib, lib.stride_tricks, linalg, ...) on device arrays."""

    def __init__(self, name, numpy_module):
        super().__init__(name)
        self._numpy_module = numpy_module

    def __getattr__(self, name):
        value = _wrap_numpy_attribute(getattr(self._numpy_module, name), f"{self.__name__}.{name}")
        setattr(self, name, value)  # cached
        return value


def _wrap_numpy_attribute(value, qualified_name):
    if isinstance(value, np.ufunc):
        return _Ufunc(value)
    if isinstance(value, types.ModuleType):
        return _Namespace(qualified_name, value)
    if callable(value) and not isinstance(value, type):
        return _device_function(value)
    return value  # dtypes and other types (float32, finfo), constants (inf, pi, newaxis)


_wrapped = {}  # name -> wrapped numpy attribute (not in globals(): `max` must stay the builtin)


def __getattr__(name):
    """Everything else: numpy's function of that name, running on device arrays."""
    if name.startswith("__"):
        raise AttributeError(name)
    if name not in _wrapped:
        try:
            value = getattr(np, name)
        except AttributeError:
            raise AttributeError(f"module 'fake_cupy' has no attribute {name!r}") from None
        _wrapped[name] = _wrap_numpy_attribute(value, f"{__name__}.{name}")
    return _wrapped[name]


import sys as _sys  # noqa: E402

_module = _sys.modules[__name__]

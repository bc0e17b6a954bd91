"""The Tensor: an array (numpy or cupy) plus what autograd needs (requires_grad, grad,
grad_fn, a version counter). Every computing method delegates to `minigrad.ops`."""

import warnings

import numpy as np

from . import autograd, dtypes
from .autograd import VersionCounter, is_grad_enabled
from .backend.device import CPU, Device, as_device


_OPS = None


def _ops():
    # Resolved at call time: ops imports tensor, so tensor imports the ops package lazily
    # (and caches it: this sits on every operator's path).
    global _OPS
    if _OPS is None:
        from . import ops

        _OPS = ops
    return _OPS


def _array_from_data(data, dtype, device):
    """PyTorch's inference: Python floats -> float32, ints -> int64, numpy keeps its dtype."""
    xp = device.xp
    if isinstance(data, Tensor):
        array = data._data
    elif isinstance(data, (np.ndarray, np.generic)) or hasattr(data, "__cuda_array_interface__"):
        array = data
    else:
        try:
            array = np.array(data)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__}: {exc}") from None
        _check_python_ints(data, array, dtype)
        if array.dtype == object or array.dtype.kind not in "biuf":
            raise TypeError(f"tensor: cannot build a tensor from {type(data).__name__} data "
                            f"of dtype {array.dtype}")
        if dtype is None:
            if array.dtype.kind == "f":
                array = array.astype(dtypes.default_float)
            elif array.dtype.kind in "iu":
                array = array.astype(np.int64)
    dtype = dtypes.as_dtype(dtype, "tensor") if dtype is not None else None
    if dtype is None and np.dtype(array.dtype).kind not in "biuf":
        raise TypeError(f"tensor: unsupported dtype {array.dtype}")
    if device.type == "cpu":
        if not isinstance(array, np.ndarray) or isinstance(array, np.generic):
            array = array.get() if hasattr(array, "get") else np.asarray(array)
        return np.array(array, dtype=dtype, copy=True)
    with xp.cuda.Device(device.index):
        return xp.array(array, dtype=dtype, copy=True)


def _check_python_ints(data, array, dtype):
    """numpy turns Python ints beyond int64 into uint64, float64 or object and a later cast
    wraps or rounds them; PyTorch refuses: ValueError, or RuntimeError for a too-small
    explicit integer dtype."""
    beyond_int64 = array.dtype.kind == "u" or array.dtype == object or (
        array.dtype.kind == "f" and array.size and np.abs(array).max() >= 2.0 ** 63)
    if beyond_int64 and not _has_float(data) and (dtype is None or
                                                  dtypes.as_dtype(dtype).kind in "iub"):
        try:
            np.array(data, dtype=np.int64)
        except OverflowError as exc:
            raise ValueError(f"tensor: {exc}; it overflows int64 (pass dtype=mg.float64 to "
                             "store it as a float)") from None
        except (ValueError, TypeError):
            pass  # ragged or non-numeric: reported by the caller
    if dtype is not None and array.dtype.kind in "iu" and array.size:
        dtypes.check_int_range("tensor", [array.min(), array.max()], dtypes.as_dtype(dtype))


def _has_float(data):
    """Whether nested lists/tuples `data` hold a float (which makes the tensor floating)."""
    if isinstance(data, (list, tuple)):
        return any(_has_float(item) for item in data)
    return isinstance(data, (float, np.floating))


class Tensor:
    """An n-dimensional array that records the ops applied to it for backward.

    >>> x = mg.tensor([[1., 2.], [3., 4.]], requires_grad=True)
    >>> y = (x * x).sum()
    >>> y.backward()
    >>> x.grad
    tensor([[2., 4.],
            [6., 8.]], dtype=float32, device='cpu')
    """

    # numpy must defer to our reflected operators (ndarray + Tensor -> Tensor.__radd__).
    __array_ufunc__ = None
    __array_priority__ = 1000

    # Defaults live on the class: a Tensor is made for every op output, so `_make` sets only
    # what differs per tensor (the array, the device and the version counter).
    _grad = None  # (read through the `grad` property, which warns on non-leaves)
    _requires_grad = False
    _grad_fn = None
    _output_nr = 0
    # For a view made with grad mode on: the tensor whose memory it shares, the view ops
    # (Function class, kwargs) that make it from there, and the version its grad_fn is for.
    _base = None

    def __init__(self, data, dtype=None, device=None, requires_grad=False):
        device = as_device(device if device is not None else
                           (data.device if isinstance(data, Tensor) else None))
        self._init(_array_from_data(data, dtype, device), device)
        self.requires_grad = requires_grad

    def _init(self, array, device, version_counter=None):
        self._data = array
        self._device = device
        self._version_counter = version_counter or VersionCounter()

    @classmethod
    def _make(cls, array, device=CPU, requires_grad=False, version_counter=None):
        """Wrap an array without copying or dtype inference (minigrad-internal)."""
        t = object.__new__(cls)
        t._data = array
        t._device = device
        t._version_counter = version_counter or VersionCounter()
        if requires_grad:
            t._requires_grad = True
        return t

    # ------------------------------------------------------------------ properties

    @property
    def data(self):
        """A Tensor sharing this one's array but outside the graph (as PyTorch's `.data`)."""
        return Tensor._make(self._data, self._device)

    @data.setter
    def data(self, value):
        value = value if isinstance(value, Tensor) else tensor(value)
        self._data = value._data
        self._device = value._device

    @property
    def grad(self):
        """The accumulated gradient (a Tensor or None). Reading it on a non-leaf that did not
        call retain_grad() warns, as PyTorch: backward never fills it there."""
        g = self._grad
        if g is None and self._grad_fn is not None and not self.retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its "
                ".grad attribute won't be populated during backward(). If you indeed want the "
                ".grad field to be populated for a non-leaf Tensor, use .retain_grad() on the "
                "non-leaf Tensor. If you access the non-leaf Tensor by mistake, make sure you "
                "access the leaf Tensor instead.", UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value):
        self._grad = value

    @property
    def retains_grad(self):
        """Whether retain_grad() was called on this non-leaf tensor."""
        node = self.grad_fn
        return bool(node is not None and node.retained and self._output_nr in node.retained)

    @property
    def grad_fn(self):
        """The node that made this tensor (None for leaves)."""
        if self._base is not None and self._view_version != self._version_counter.value:
            self._refresh_view()
        return self._grad_fn

    @grad_fn.setter
    def grad_fn(self, node):
        self._grad_fn = node

    def _refresh_view(self):
        """The base (or another view of it) was written in place since this view's history was
        made: rebuild that history from the base's current one (as PyTorch does), so backward
        through the view reaches what the base's values now depend on."""
        base = self._base
        self._view_version = self._version_counter.value
        if self._grad_fn is None and not base.requires_grad:
            return
        with autograd.enable_grad():
            fresh = autograd.apply_view_ops(base, self._view_ops)
        self._grad_fn, self._output_nr = fresh._grad_fn, fresh._output_nr
        self._requires_grad = fresh._requires_grad

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        flag = bool(flag)
        if flag and self._data.dtype.kind != "f":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients, got {self.dtype}"
            )
        if not flag and self.grad_fn is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf tensors; use detach() to get "
                "a tensor outside the graph"
            )
        self._requires_grad = flag

    @property
    def shape(self):
        return tuple(self._data.shape)

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def dtype(self):
        return self._data.dtype

    @property
    def device(self):
        return self._device

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def _version(self):
        return self._version_counter.value

    @property
    def T(self):  # noqa: N802
        """The tensor with its dims reversed."""
        return self.permute(*reversed(range(self.ndim))) if self.ndim > 1 else self

    def size(self, dim=None):
        """The shape, or the size of one dim."""
        if dim is None:
            return self.shape
        if self.ndim == 0:
            raise IndexError(f"size: dimension specified as {dim} but tensor has no dimensions")
        from .ops.common import normalize_dim

        return self.shape[normalize_dim(dim, self.ndim, "size")]

    def dim(self):
        return self.ndim

    def numel(self):
        return int(self._data.size)

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def element_size(self):
        return self._data.itemsize

    # ------------------------------------------------------------------ conversion

    def numpy(self):
        """The array (shared, not copied). Not allowed on tensors that require grad."""
        if self.requires_grad:
            raise RuntimeError(
                "can't call numpy() on a tensor that requires grad; use tensor.detach().numpy()"
            )
        if self._device.type != "cpu":
            raise TypeError(f"can't convert a {self._device} tensor to numpy; use .cpu() first")
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        if dtype is not None and array.dtype != dtype:
            return array.astype(dtype)
        return array.copy() if copy else array

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """A DLPack capsule of this tensor's memory (zero-copy), as `torch.from_dlpack(t)` and
        `np.from_dlpack(t)` ask for. A tensor that requires grad raises RuntimeError, as in
        PyTorch: export `t.detach()`. See `minigrad/interop.py`."""
        from .interop import tensor_dlpack

        return tensor_dlpack(self, stream, max_version, dl_device, copy)

    def __dlpack_device__(self):
        """(1, 0) for a CPU tensor, (2, N) for one on cuda:N (DLPack device type, index)."""
        from .interop import tensor_dlpack_device

        return tensor_dlpack_device(self)

    def item(self):
        """The single value as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(f"item: a tensor with {self.numel()} elements cannot be converted to a Python number")
        return self._data.reshape(()).item()

    def tolist(self):
        data = self._data.get() if hasattr(self._data, "get") else self._data
        return data.tolist()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors can be used as an index, got {self.dtype}")
        return int(self.item())

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(
                f"the truth value of a tensor with {self.numel()} elements is ambiguous"
            )
        return bool(self.item())

    def to(self, *args, **kwargs):
        """Move to a device and/or cast to a dtype: `to("cuda")`, `to(mg.float64)`, `to(other)`."""
        device, dtype = parse_to_args(args, kwargs, ignored=("non_blocking", "copy"))
        out = self
        if device is not None:
            device = as_device(device)
            if device != self._device:
                out = _ops().elementwise.ToDevice.apply(out, device=device)
                out._device = device
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype, "to")
            if dtype != out.dtype:
                if out.requires_grad and dtype.kind == "f":
                    out = _ops().elementwise.Cast.apply(out, dtype=dtype)
                else:
                    out = Tensor._make(out._data.astype(dtype), out._device)
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def long(self):
        return self.to(dtypes.int64)

    def bool(self):
        return self.to(dtypes.bool)

    def type(self, dtype=None):
        return self.dtype if dtype is None else self.to(dtype)

    def detach(self):
        """The same data, outside the graph (shares memory and the version counter)."""
        return Tensor._make(self._data, self._device, version_counter=self._version_counter)

    def detach_(self):
        self.grad_fn = None
        self._base = None
        self._requires_grad = False
        return self

    def clone(self):
        return _ops().clone(self)

    def is_contiguous(self):
        """Whether the elements lie in row-major order without gaps (as PyTorch)."""
        return bool(self._data.flags.c_contiguous)

    def contiguous(self):
        """This tensor if it is contiguous, else a row-major copy (in the graph)."""
        return self if self.is_contiguous() else _ops().clone(self)

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep `.grad` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("retain_grad: can't retain grad on a tensor that doesn't require grad")
            return
        import weakref

        if self.grad_fn.retained is None:
            self.grad_fn.retained = {}
        self.grad_fn.retained[self._output_nr] = weakref.ref(self)

    def register_hook(self, hook):
        """Call `hook(grad)` each time the gradient w.r.t. this tensor is computed.

        A hook that returns a Tensor replaces the gradient (same shape, dtype, device) for
        everything downstream: the `.grad` of a leaf, the rest of backward for a non-leaf.
        Returns a handle whose `remove()` unregisters the hook (as PyTorch).
        """
        from .hooks import HookDict, add_hook

        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if self.grad_fn is None:
            hooks = self.__dict__.get("_backward_hooks")
            if hooks is None:
                hooks = self._backward_hooks = HookDict()
        else:
            node = self.grad_fn
            if node.hooks is None:
                node.hooks = {}
            hooks = node.hooks.setdefault(self._output_nr, HookDict())
        return add_hook(hooks, hook)

    # ------------------------------------------------------------------ autograd

    def backward(self, gradient=None, retain_graph=None, create_graph=False):
        """Accumulate the gradient of this tensor into every leaf's `.grad`.

        Args:
            gradient: d(something)/d(self); needed unless self has one element.
            retain_graph: keep saved values so backward can run again (default: create_graph).
            create_graph: record the backward pass, for gradients of gradients.
        """
        autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def zero_(self):
        return self._assign(self._device.xp.zeros_like(self._data))

    # ------------------------------------------------------------------ in-place ops

    def _write(self, array):
        """Overwrite this tensor's values in place and bump its version (no graph)."""
        if self.requires_grad and self.is_leaf and is_grad_enabled():
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap it in `with mg.no_grad():`"
            )
        if not self._data.flags.writeable:
            raise RuntimeError(
                f"in-place operation on a tensor of shape {self.shape} whose memory is a "
                "read-only broadcast view (from expand); clone() it first"
            )
        self._data[...] = array
        self._version_counter.value += 1
        return self

    def _assign(self, array, source=None):
        """Overwrite the values with `array` (fill_, zero_, copy_, ...). On a tensor in a graph
        this is recorded as `self * 0 + array`, so the old values get zero gradient (and a
        `source` that requires grad, for copy_, gets its gradient), as in PyTorch."""
        in_graph = is_grad_enabled() and (self._grad_fn is not None or
                                          (source is not None and source.requires_grad))
        if not in_graph or (self.requires_grad and self.is_leaf):
            return self._write(array)  # (which refuses leaves that require grad)
        value = source if source is not None else Tensor._make(array, self._device)
        if value.dtype != self.dtype:
            value = value.to(self.dtype)
        return self._inplace(self * 0 + value)

    def _inplace(self, result):
        """Make `self` take the values and the history of the out-of-place `result`."""
        if result.shape != self.shape:
            raise RuntimeError(
                f"in-place operation: result of shape {result.shape} doesn't match the tensor's "
                f"shape {self.shape}"
            )
        if result.dtype != self.dtype and not np.can_cast(result.dtype, self.dtype, "same_kind"):
            raise RuntimeError(
                f"in-place operation: result type {result.dtype} can't be cast to the tensor's "
                f"dtype {self.dtype}"
            )
        recorded = result.grad_fn is not None
        if recorded and self.requires_grad and self.is_leaf:
            raise RuntimeError(
                "a leaf tensor that requires grad is being used in an in-place operation; "
                "wrap it in `with mg.no_grad():`"
            )
        if recorded:
            # If result's own op saved self (b *= a saves b), keep the values it saw.
            autograd.preserve_saved_input(result.grad_fn, self)
        base = self._base
        if base is not None and is_grad_enabled() and (recorded or base.requires_grad):
            return self._inplace_on_view(result)
        self._write(result._data)
        if recorded:
            self.grad_fn, self._output_nr = result.grad_fn, result._output_nr
            self._requires_grad = True
        return self

    def _inplace_on_view(self, result):
        """In-place write through a view: the base's new history is "the old base with the
        view's region replaced by result" (PyTorch's CopySlices), and the view is re-derived
        from it. Without this, backward through the base would miss the write."""
        base = self._base
        if base.requires_grad and base.is_leaf:
            raise RuntimeError(
                "a view of a leaf tensor that requires grad is being used in an in-place "
                "operation; wrap it in `with mg.no_grad():` or clone() the leaf first"
            )
        if not self._data.flags.writeable:
            raise RuntimeError(
                f"in-place operation on a tensor of shape {self.shape} whose memory is a "
                "read-only broadcast view (from expand); clone() it first"
            )
        if result.dtype != self.dtype:
            result = result.to(self.dtype)
        new_base = autograd.ViewScatter.apply(base, result, ops=self._view_ops)
        base._write(new_base._data)
        base._grad_fn, base._output_nr = new_base._grad_fn, new_base._output_nr
        base._requires_grad = new_base._requires_grad
        self._refresh_view()
        return self

    def __iadd__(self, other):
        return self._inplace(self + other)

    def __isub__(self, other):
        return self._inplace(self - other)

    def __imul__(self, other):
        return self._inplace(self * other)

    def __itruediv__(self, other):
        return self._inplace(self / other)

    def add_(self, other, *, alpha=1):
        return self._inplace(_ops().add(self, other, alpha=alpha))

    def sub_(self, other, *, alpha=1):
        return self._inplace(_ops().sub(self, other, alpha=alpha))

    def mul_(self, other):
        return self._inplace(self * other)

    def div_(self, other):
        return self._inplace(self / other)

    def clamp_(self, min=None, max=None):  # noqa: A002
        return self._inplace(self.clamp(min, max))

    def masked_fill_(self, mask, value):
        return self._inplace(_ops().masked_fill(self, mask, value))

    def scatter_add_(self, dim, index, src):
        return self._inplace(_ops().scatter_add(self, dim, index, src))

    def copy_(self, src):
        src = src if isinstance(src, Tensor) else tensor(src)
        return self._assign(self._device.xp.broadcast_to(src._data, self.shape).astype(self.dtype),
                            source=src)

    def fill_(self, value):
        return self._assign(self._device.xp.full(self.shape, value, self.dtype))

    def uniform_(self, a=0.0, b=1.0):
        from .random import generator

        return self._assign(self._device.xp.asarray(generator().uniform(a, b, self.shape)))

    def normal_(self, mean=0.0, std=1.0):
        from .random import generator

        return self._assign(self._device.xp.asarray(generator().normal(mean, std, self.shape)))

    def __setitem__(self, key, value):
        result = _ops().index_put(self, key, value)
        if result.grad_fn is None:
            self._write(result._data)
        else:
            self._inplace(result)

    # ------------------------------------------------------------------ operators
    # (minigrad.ops, once imported, replaces __add__, __sub__, __mul__ and __truediv__ with the
    # op functions themselves, which is what these do with one call less.)

    def __add__(self, other):
        return _ops().add(self, other)

    def __radd__(self, other):
        return _ops().add(other, self)

    def __sub__(self, other):
        return _ops().sub(self, other)

    def __rsub__(self, other):
        return _ops().sub(other, self)

    def __mul__(self, other):
        return _ops().mul(self, other)

    def __rmul__(self, other):
        return _ops().mul(other, self)

    def __truediv__(self, other):
        return _ops().div(self, other)

    def __rtruediv__(self, other):
        return _ops().div(other, self)

    def __pow__(self, other):
        return _ops().pow(self, other)

    def __rpow__(self, other):
        return _ops().pow(other, self)

    def __mod__(self, other):
        return _ops().remainder(self, other)

    def __rmod__(self, other):
        return _ops().remainder(other, self)

    def __floordiv__(self, other):
        return _ops().floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops().floor_divide(other, self)

    def __matmul__(self, other):
        return _ops().matmul(self, other)

    def __rmatmul__(self, other):
        return _ops().matmul(other, self)

    def __neg__(self):
        return _ops().neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops().abs(self)

    def __eq__(self, other):
        return _ops().eq(self, other)

    def __ne__(self, other):
        return _ops().ne(self, other)

    def __lt__(self, other):
        return _ops().lt(self, other)

    def __le__(self, other):
        return _ops().le(self, other)

    def __gt__(self, other):
        return _ops().gt(self, other)

    def __ge__(self, other):
        return _ops().ge(self, other)

    def __and__(self, other):
        return _ops().bitwise_and(self, other)

    def __rand__(self, other):
        return _ops().bitwise_and(other, self)

    def __or__(self, other):
        return _ops().bitwise_or(self, other)

    def __ror__(self, other):
        return _ops().bitwise_or(other, self)

    def __xor__(self, other):
        return _ops().bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops().bitwise_xor(other, self)

    def __invert__(self):
        return _ops().bitwise_not(self)

    __hash__ = object.__hash__

    def __format__(self, spec):
        # f"{loss:.4f}": a 0-d tensor formats as its Python number, as PyTorch.
        if self.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __getitem__(self, key):
        return _ops().getitem(self, key)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __repr__(self):
        data = self._data.get() if hasattr(self._data, "get") else self._data
        body = np.array2string(data, separator=", ", prefix="tensor(", precision=4,
                               threshold=1000, edgeitems=3)
        extras = [f"dtype={self.dtype}", f"device='{self._device}'"]
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    # ------------------------------------------------------------------ methods -> ops
    # The computing methods (x.exp(), x.sum(dim), x.reshape(...), ...) are the ops' public
    # functions themselves, installed from the op catalogue by minigrad.ops
    # (minigrad/testing/catalogue: every entry exposed at "Tensor").

    def expand_as(self, other):
        return _ops().expand(self, *other.shape)

    def view_as(self, other):
        return _ops().reshape(self, other.shape)

    def reshape_as(self, other):
        return _ops().reshape(self, other.shape)


autograd._bind_tensor_class(Tensor)


# ---------------------------------------------------------------------------- constructors


def parse_to_args(args, kwargs, ignored):
    """The (device, dtype) a `to(*args, **kwargs)` call asks for, either None when not given.

    Positional arguments: a Tensor (its dtype and device), a device (str or Device) or a dtype;
    keywords: `device`, `dtype` and the names in `ignored` (accepted and dropped). Values are
    returned as given, not yet converted. Pops from `kwargs`.
    """
    dtype = kwargs.pop("dtype", None)
    device = kwargs.pop("device", None)
    for name in ignored:
        kwargs.pop(name, None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, (str, Device)):
            device = a
        else:
            dtype = a
    return device, dtype


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of `data` (list, number, numpy array or Tensor).

    >>> mg.tensor([1., 2.]).dtype      # Python floats give float32
    dtype('float32')
    """
    return Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def from_numpy(array):
    """A CPU tensor sharing memory with the numpy array."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    dtypes.as_dtype(array.dtype, "from_numpy")
    if type(array) is not np.ndarray:
        if isinstance(array, np.ma.MaskedArray):  # its mask would be dropped silently
            raise TypeError("from_numpy: masked arrays are not supported; use "
                            "array.filled(value) or array.data")
        # np.matrix (where `*` is a matrix product) and other subclasses: the same memory
        # seen as a plain ndarray, so elementwise ops stay elementwise.
        array = array.view(np.ndarray)
    return Tensor._make(array, CPU)


def is_tensor(obj):
    return isinstance(obj, Tensor)


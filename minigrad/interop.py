"""Zero-copy exchange with numpy, PyTorch and CuPy through DLPack.

DLPack is the protocol array libraries use to hand each other a pointer, a shape, strides, a
dtype and a device without copying the data. An object takes part by having two methods:

    obj.__dlpack_device__()   -> (device type, device id): (1, 0) for the CPU, (2, N) for cuda:N
    obj.__dlpack__(stream=None, ...)  -> a capsule the consumer takes ownership of

A minigrad Tensor has both (they forward to its numpy or CuPy array), so `torch.from_dlpack(t)`,
`np.from_dlpack(t)` and `cupy.from_dlpack(t)` see the tensor's memory, and `mg.from_dlpack(obj)`
makes a Tensor that shares the memory of any such object:

>>> import numpy as np
>>> a = np.zeros(3, dtype=np.float32)
>>> t = mg.from_dlpack(a)
>>> a[0] = 5.0
>>> t.tolist()
[5.0, 0.0, 0.0]

As in PyTorch, a tensor that requires grad is not exported (the other library would bypass
autograd); call `t.detach()` first: the detached tensor shares the same memory.

With MINIGRAD_FAKE_CUDA=1 the emulated "cuda" device holds host memory posing as device memory:
its tensors report a CUDA device, `mg.from_dlpack` shares them (and arrays of the emulated
CuPy), but exporting one to another library raises BufferError, as no real CUDA library could
read that memory.
"""

import numpy as np

from . import dtypes
from .backend.device import CPU, Device

# DLPack device types (dlpack.h: DLDeviceType)
KDL_CPU = 1
KDL_CUDA = 2
KDL_CUDA_HOST = 3  # pinned host memory: readable from the CPU
KDL_CUDA_MANAGED = 13

REQUIRES_GRAD_MESSAGE = ("Can't export tensors that require gradient, use tensor.detach() "
                         "(the detached tensor shares the same memory)")


def tensor_dlpack(t, stream=None, max_version=None, dl_device=None, copy=None):
    """Tensor.__dlpack__: a DLPack capsule of `t`'s array (no copy unless `copy=True`)."""
    if t.requires_grad:
        raise BufferError(REQUIRES_GRAD_MESSAGE)  # PyTorch's exception and words
    array = t._data
    kwargs = {}
    # Only forward what the caller gave: older producers (numpy < 2.1, CuPy 12) do not take
    # the newer keywords, and a consumer that passes none of them expects a legacy capsule.
    for name, value in (("max_version", max_version), ("dl_device", dl_device), ("copy", copy)):
        if value is not None:
            kwargs[name] = value
    if t.device.type == "cpu":
        if stream is not None:
            raise BufferError(f"__dlpack__: stream must be None for a CPU tensor, got {stream!r}")
        return array.__dlpack__(**kwargs)
    return array.__dlpack__(stream=stream, **kwargs)


def tensor_dlpack_device(t):
    """Tensor.__dlpack_device__: (1, 0) on the CPU, (2, N) on cuda:N."""
    if t.device.type == "cpu":
        return (KDL_CPU, 0)
    return (KDL_CUDA, t.device.index)


def from_dlpack(obj):
    """A Tensor sharing the memory of `obj`: a numpy array, a PyTorch tensor, a CuPy array, a
    minigrad Tensor or anything else with `__dlpack__` and `__dlpack_device__`.

    The tensor lives where `obj` lives (a CPU tensor for CPU memory, "cuda:N" for CUDA memory,
    which needs CuPy), keeps its dtype, shape and strides, and does not require grad. Writes
    through either side are seen by the other.

    Raises:
        TypeError: `obj` does not speak DLPack (a list, a bare capsule), or its dtype has no
            minigrad counterpart (bfloat16, complex).
        RuntimeError: a CUDA object while CUDA is not usable here.
        BufferError: the producer refuses to export, e.g. a tensor that requires grad (as
            PyTorch: detach it first) or an emulated-CUDA array going to a real library.
    """
    from .tensor import Tensor

    if isinstance(obj, Tensor):
        if obj.requires_grad:
            raise BufferError(f"from_dlpack: {REQUIRES_GRAD_MESSAGE}")
        return Tensor._make(obj._data, obj.device, version_counter=obj._version_counter)
    if not (hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__")):
        kind = type(obj).__name__
        hint = (" (a bare DLPack capsule: pass the array or tensor itself, which has "
                "__dlpack__)" if kind == "PyCapsule" else "")
        raise TypeError(f"from_dlpack: expected an object with __dlpack__ and __dlpack_device__ "
                        f"(a numpy array, PyTorch tensor, CuPy array or Tensor), got {kind}{hint}")
    device_type, device_id = (int(v) for v in obj.__dlpack_device__())
    if device_type in (KDL_CPU, KDL_CUDA_HOST):
        array = _import(np.from_dlpack, obj)
        device = CPU
    elif device_type in (KDL_CUDA, KDL_CUDA_MANAGED):
        device = _cuda_device(device_id)
        xp = device.xp
        from . import cuda

        if cuda.FAKE and xp.is_fake(obj):
            array = obj  # the emulated device's own array: shared as is
        else:
            with xp.cuda.Device(device_id):
                array = _import(xp.from_dlpack, obj)
    else:
        raise TypeError(f"from_dlpack: {type(obj).__name__} lives on DLPack device type "
                        f"{device_type}; minigrad has tensors on the CPU (1) and CUDA (2) only")
    try:
        dtypes.as_dtype(array.dtype, "from_dlpack")
    except TypeError:
        raise TypeError(f"from_dlpack: dtype {array.dtype} of {type(obj).__name__} has no "
                        "minigrad counterpart (float, integer and bool tensors only)") from None
    return Tensor._make(array, device)


def _import(consumer, obj):
    """consumer(obj) (numpy's or CuPy's from_dlpack), with the failures that mean "this dtype
    or layout cannot be shared" reported as a TypeError that names the object."""
    try:
        return consumer(obj)
    except BufferError:
        raise  # the producer refused (requires grad, ...): its message says why
    except (TypeError, ValueError, RuntimeError) as e:
        # numpy on a bfloat16 tensor: RuntimeError "Unsupported dtype in DLTensor."
        if isinstance(e, RuntimeError) and "dtype" not in str(e).lower():
            raise
        dtype = getattr(obj, "dtype", None)
        what = f"{type(obj).__name__} of dtype {dtype}" if dtype is not None else type(obj).__name__
        raise TypeError(f"from_dlpack: cannot share {what} with minigrad: {e} (minigrad has "
                        "float, integer and bool tensors; convert first, e.g. "
                        "torch_tensor.float())") from None


def _cuda_device(index):
    from .backend.device import as_device

    try:
        return as_device(Device(f"cuda:{index}"))
    except RuntimeError as e:
        raise RuntimeError(f"from_dlpack: the object lives on cuda:{index}, but {e}") from None

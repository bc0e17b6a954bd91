"""`Module`: the base of every layer. It keeps its parameters, buffers and submodules in
ordered dicts (registered by attribute assignment), walks them recursively, moves them
between dtypes/devices in place, and saves/loads them as a state dict.

>>> class Net(mg.nn.Module):
...     def __init__(self):
...         super().__init__()
...         self.fc = mg.nn.Linear(4, 2)       # registered as a submodule
...     def forward(self, x):
...         return self.fc(x).relu()
>>> net = Net()
>>> [name for name, _ in net.named_parameters()]
['fc.weight', 'fc.bias']
"""

from collections import OrderedDict, namedtuple

import numpy as np

from .. import dtypes
from ..autograd import no_grad
from ..hooks import HookDict, add_hook
from ..backend.device import as_device, move
from ..tensor import Tensor, parse_to_args
from .parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of all layers and models: subclass it and define `forward`."""

    training: bool

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", HookDict())
        object.__setattr__(self, "_forward_hooks", HookDict())
        object.__setattr__(self, "_hooks_with_kwargs", set())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args, **kwargs):
        if self._forward_pre_hooks or self._forward_hooks:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ hooks

    def _call_with_hooks(self, args, kwargs):
        with_kwargs = self._hooks_with_kwargs
        for hook_id, hook in tuple(self._forward_pre_hooks.items()):
            if hook_id in with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(
                            "forward pre-hook registered with with_kwargs=True must return None "
                            f"or a tuple (args, kwargs), got {type(result).__name__}")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        output = self.forward(*args, **kwargs)
        for hook_id, hook in tuple(self._forward_hooks.items()):
            if hook_id in with_kwargs:
                result = hook(self, args, kwargs, output)
            else:
                result = hook(self, args, output)
            if result is not None:
                output = result
        return output

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call `hook(module, args)` before every forward; a non-None result replaces the
        positional inputs (a single value is wrapped in a tuple). With `with_kwargs=True`
        the hook is `hook(module, args, kwargs)` and may return `(args, kwargs)`.
        Returns a handle whose `remove()` unregisters the hook (as PyTorch)."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Call `hook(module, args, output)` after every forward; a non-None result replaces
        the output. With `with_kwargs=True` the hook is `hook(module, args, kwargs, output)`.
        `prepend=True` runs it before the hooks already registered.
        Returns a handle whose `remove()` unregisters the hook (as PyTorch)."""
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def _add_hook(self, hooks, hook, prepend, with_kwargs):
        handle = add_hook(hooks, hook)
        if prepend:
            items = list(hooks.items())
            hooks.clear()
            hooks.update(items[-1:] + items[:-1])
        if with_kwargs:
            self._hooks_with_kwargs.add(handle.id)
        return handle

    # ------------------------------------------------------------------ registration

    def _check_init(self):
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign to {type(self).__name__} before Module.__init__() is called"
            )

    def register_parameter(self, name: str, param) -> None:
        """Add a parameter (or None, a placeholder) under `name`."""
        self._check_init()
        _check_name(name, self, "register_parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign a {type(param).__name__} as parameter {name!r} "
                "(Parameter or None expected)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. BatchNorm's running_mean)."""
        self._check_init()
        _check_name(name, self, "register_buffer")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"attribute {name!r} already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign a {type(tensor).__name__} as buffer {name!r} "
                "(Tensor or None expected)"
            )
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module) -> None:
        """Add a child module under `name` (what attribute assignment does)."""
        self._check_init()
        _check_name(name, self, "add_module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name, value):
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init()
            _remove_from(name, self.__dict__, self._buffers, self._modules)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign a {type(value).__name__} as parameter {name!r} "
                    "(Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._check_init()
            _remove_from(name, self.__dict__, self._parameters, self._buffers)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign a {type(value).__name__} as child module {name!r}")
            self._modules[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} as buffer {name!r}")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Only called when normal lookup fails: parameters, buffers and modules live in dicts.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # ------------------------------------------------------------------ traversal

    def named_modules(self, memo=None, prefix: str = ""):
        """(qualified name, module) for this module and every descendant, each once."""
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in memo:
                continue
            memo.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m)
                        for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in seen:
                seen.add(id(module))
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, store, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        """(qualified name, Parameter) pairs, each parameter once (shared ones too)."""
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str):
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r}")
            module = module._modules[part]
        return module

    def apply(self, fn):
        """Call `fn(module)` on every submodule (children first) and on self; returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ modes and grads

    def train(self, mode: bool = True):
        """Training mode on (or off with mode=False) for this module and all descendants."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be a boolean")
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Evaluation mode: Dropout is the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient (to None by default, as PyTorch)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad._data[...] = 0

    # ------------------------------------------------------------------ dtype / device

    def to(self, *args, **kwargs):
        """Move/cast parameters and buffers in place (`to("cuda")`, `to(mg.float64)`).

        Parameters keep their identity (optimizers built before stay valid); only floating
        point tensors change dtype, as in PyTorch. Returns self.
        """
        device, dtype = parse_to_args(args, kwargs, ignored=("non_blocking",))
        device = as_device(device) if device is not None else None
        dtype = dtypes.as_dtype(dtype, "to") if dtype is not None else None
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"Module.to only accepts floating point dtypes, got {dtype}")

        def convert(t):
            new = t.detach()
            if device is not None:
                new = new.to(device)
            if dtype is not None and new.dtype.kind == "f":
                new = new.to(dtype)
            return new

        with no_grad():
            for t in list(self.parameters()) + list(self.buffers()):
                new = convert(t)
                if new._data is not t._data:
                    t._data, t._device = new._data, new._device
                    t._version_counter.value += 1
                if t.grad is not None:
                    g = convert(t.grad)
                    t.grad = Tensor._make(g._data, g._device)
        return self

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to("cuda" if device is None else f"cuda:{int(device)}")

    # ------------------------------------------------------------------ state dict

    def state_dict(self, destination=None, prefix: str = "", keep_vars: bool = False):
        """An OrderedDict name -> Tensor of every parameter and persistent buffer.

        The tensors share memory with the module's (detached, unless keep_vars=True), as in
        PyTorch; `mg.save(model.state_dict(), path)` writes them out.
        """
        destination = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination, prefix + name + ".", keep_vars)
        return destination

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (Tensors, numpy arrays, or PyTorch tensors, e.g. a
        `torch_model.state_dict()`) into this module's parameters and buffers.

        Values are written in place, so parameters keep their identity. A shape mismatch
        raises RuntimeError naming the key; with strict=True so does a missing or an
        unexpected key. Returns (missing_keys, unexpected_keys).
        """
        if not hasattr(state_dict, "items"):
            raise TypeError(f"load_state_dict: expected a dict, got {type(state_dict).__name__}")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        arrays = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            array = _as_array(state_dict[key], key)
            if tuple(array.shape) != target.shape:
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(array.shape)} "
                    f"from checkpoint, the shape in current model is {target.shape}."
                )
            else:
                arrays[key] = array
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: "
                              + ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        with no_grad():
            for key, array in arrays.items():
                target = own[key]
                target._data[...] = _on_device(array, target.device).astype(target.dtype,
                                                                            copy=False)
                target._version_counter.value += 1
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ repr

    def extra_repr(self) -> str:
        """One line of constructor arguments shown by repr (override in layers)."""
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, module in self._modules.items():
            body = repr(module).replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        if not lines:
            return f"{type(self).__name__}()"
        if len(lines) == 1 and not self._modules:
            return f"{type(self).__name__}({lines[0]})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines) + "\n)"


def _check_name(name, module, op):
    if not isinstance(name, str):
        raise TypeError(f"{op}: name must be a string, got {type(name).__name__}")
    if not name or "." in name:
        raise KeyError(f"{op}: name {name!r} must be non-empty and contain no '.'")
    if hasattr(type(module), name) and not isinstance(getattr(type(module), name, None), property):
        raise KeyError(f"{op}: attribute {name!r} already exists")


def _remove_from(name, *stores):
    for store in stores:
        if name in store:
            del store[name]


def _on_device(array, device):
    """`array` (numpy or CuPy) as an array of `device`: as is when it already lives there."""
    if device.type == "cpu":
        return array if isinstance(array, np.ndarray) else array.get()
    xp = device.xp
    if isinstance(array, np.ndarray):
        with xp.cuda.Device(device.index):
            return xp.asarray(array)
    return array if array.device.id == device.index else move(array, device)


def _as_array(value, key):
    """The array behind a state-dict value: a Tensor's own (any device), a numpy array, a
    CuPy array, or, duck-typed through DLPack (torch is never imported), a PyTorch tensor's
    memory, shared without a copy."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (np.ndarray, np.generic, int, float, bool)):
        return np.asarray(value)
    if hasattr(value, "__cuda_array_interface__") and not hasattr(value, "detach"):
        return value  # a CuPy array
    if hasattr(value, "__dlpack__"):  # a PyTorch tensor (or any DLPack producer)
        from ..interop import from_dlpack

        if getattr(value, "requires_grad", False) and hasattr(value, "detach"):
            value = value.detach()  # e.g. dict(torch_model.named_parameters())
        try:
            return from_dlpack(value)._data
        except (TypeError, BufferError, RuntimeError) as e:
            raise TypeError(f"load_state_dict: value for {key!r} ({type(value).__name__}) "
                            f"cannot be read: {e}") from None
    raise TypeError(
        f"load_state_dict: value for {key!r} must be a Tensor, a numpy array or a PyTorch "
        f"tensor, got {type(value).__name__}"
    )

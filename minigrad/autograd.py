"""The autograd engine: graph nodes recorded on the forward pass, and an iterative
reverse-topological walk that runs their backward functions.

How the graph is built
    Every op is a `Function` subclass. `Function.apply` runs `forward`, and when grad mode
    is on and some input requires grad, it creates a `Node` and sets it as the outputs'
    `grad_fn`. A node holds strong references to what produced its inputs (earlier nodes,
    or leaf tensors whose `.grad` it will fill) and weak references to its own outputs, so
    the graph has no reference cycles and is freed by reference counting alone.

How backward runs (see `run_backward`)
    1. Walk from the roots with an explicit stack (never recursion: a 100,000-op chain
       must work) and count, for each node, how many consumers it has in this graph.
    2. Start from the roots with their incoming gradients; a node runs only when all of
       its consumers have run, so its gradient is complete (the sum over every use).
    3. With `create_graph=True` each node's `backward` gets Tensors and returns Tensors, so
       the backward pass is itself recorded and can be differentiated again.
    4. Without it (the common case: one gradient, then an optimizer step) gradients flow as
       raw arrays: a node whose Function defines `backward_arrays` gets and returns arrays
       (no Tensor, no op dispatch per gradient term); any other node has its arrays wrapped
       in Tensors for its `backward` (run with grad mode off) and unwrapped again.
       `backward` stays the definition: `backward_arrays` is the same formula on arrays, and
       the test suite checks the two paths against each other on every registered op.
"""

import functools
import os
import sys
import threading
import traceback
import weakref

from .backend.device import CPU

# minigrad.tensor.Tensor. tensor.py imports this module, so it binds the class here once it
# is defined (`_bind_tensor_class`); the hot paths read this global instead of importing
# (an import statement inside them would cost microseconds per op).
_Tensor = None


def _bind_tensor_class(cls):
    global _Tensor
    _Tensor = cls


def _tensor_class():
    """minigrad.tensor.Tensor (for modules that cannot import it at their import time)."""
    if _Tensor is None:
        from . import tensor  # noqa: F401  (binds _Tensor)
    return _Tensor


# ---------------------------------------------------------------------------- grad mode


class _State(threading.local):
    grad_enabled = True
    inference_mode = False
    anomaly_enabled = False
    strict_gradients = False
    # True while run_backward(create_graph=True) runs: nodes made then are gradient nodes
    # (recorded on `Node.in_backward`, which mg.viz marks).
    in_backward = False
    # Under `observe_ops(callback)`: called as callback(fn, args, kwargs, outputs) for every
    # op application that records a node (gradcheck's localisation replays them one by one).
    op_observer = None


_state = _State()


def is_grad_enabled() -> bool:
    """Whether ops are recorded for backward right now (thread-local)."""
    return _state.grad_enabled


class _GradModeContext:
    """Base of `no_grad`/`enable_grad`: a context manager that is also a decorator.

    Both `@mg.no_grad()` and `@mg.no_grad` work, as in PyTorch.
    """

    _enabled = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        self._saved = []
        if func is None:
            return self
        return self(func)

    def __enter__(self):
        self._saved.append(_state.grad_enabled)
        _state.grad_enabled = self._enabled
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._saved.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):  # noqa: N801  (PyTorch's name)
    """Context manager / decorator: ops inside record no graph (inference, optimizer steps)."""

    _enabled = False


class enable_grad(_GradModeContext):  # noqa: N801
    """Context manager / decorator: turn recording back on inside a `no_grad` block."""

    _enabled = True


class set_grad_enabled(_GradModeContext):  # noqa: N801
    """`with mg.set_grad_enabled(flag):` sets grad mode to `flag` inside the block.

    As in PyTorch, calling it as a plain function (`mg.set_grad_enabled(False)`) sets the
    mode right away, and the `with` block restores the mode it found.
    """

    def __new__(cls, mode: bool):
        self = super().__new__(cls)
        self._enabled = bool(mode)
        self._prev = _state.grad_enabled
        _state.grad_enabled = self._enabled
        return self

    def __enter__(self):
        _state.grad_enabled = self._enabled
        return self

    def __exit__(self, *exc):
        _state.grad_enabled = self._prev
        return False

    def __call__(self, func):
        # Used as a decorator: undo the mode the constructor set, apply it per call instead.
        _state.grad_enabled = self._prev
        mode = self._enabled

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper


class inference_mode(_GradModeContext):  # noqa: N801
    """`with mg.inference_mode():` (or `@mg.inference_mode()` / `@mg.inference_mode`): like
    `no_grad`, for code that will never need gradients; tensors made inside record no graph.
    `inference_mode(False)` is a no-op, as PyTorch's (grad mode is left as it is)."""

    def __new__(cls, mode=True):
        if callable(mode):  # bare decorator: @mg.inference_mode
            return cls(True)(mode)
        self = super().__new__(cls)
        self._mode = bool(mode)
        return self

    def __enter__(self):
        self._saved.append((_state.grad_enabled, _state.inference_mode))
        if self._mode:
            _state.grad_enabled = False
            _state.inference_mode = True
        return self

    def __exit__(self, *exc):
        _state.grad_enabled, _state.inference_mode = self._saved.pop()
        return False

    def __call__(self, func):
        mode = self._mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper


def is_inference_mode_enabled() -> bool:
    """Whether an `inference_mode()` block is active (thread-local)."""
    return _state.inference_mode


# ---------------------------------------------------------------------------- anomaly mode


class detect_anomaly(_GradModeContext):  # noqa: N801
    """Record where each op was called and make backward raise at the first NaN/Inf gradient.

    Off by default; when off, the only cost is one flag check per op and per node.
    """

    def __enter__(self):
        self._saved.append(_state.anomaly_enabled)
        _state.anomaly_enabled = True
        return self

    def __exit__(self, *exc):
        _state.anomaly_enabled = self._saved.pop()
        return False


def is_anomaly_enabled() -> bool:
    return _state.anomaly_enabled


class observe_ops:  # noqa: N801
    """`with observe_ops(callback):` calls callback(fn, args, kwargs, outputs) after every op
    application that records a graph node (thread-local; used by mg.gradcheck to localise a
    wrong backward inside a composite function)."""

    def __init__(self, callback):
        self.callback = callback

    def __enter__(self):
        self.saved = _state.op_observer
        _state.op_observer = self.callback
        return self

    def __exit__(self, *exc):
        _state.op_observer = self.saved
        return False


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


@functools.lru_cache(maxsize=1024)
def _in_package(filename):
    return os.path.abspath(filename).startswith(_PACKAGE_DIR)


def _user_stack(limit=8):
    """The caller's stack without minigrad's own frames: where the user called the op.

    Only frames from files inside the minigrad package are dropped (a test or script that
    lives beside the package is user code). At most `limit` innermost user frames, outermost
    first, as `traceback.extract_stack` returns them.
    """
    frames = []
    frame = sys._getframe(1)
    while frame is not None and len(frames) < limit:
        if not _in_package(frame.f_code.co_filename):
            frames.append((frame, frame.f_lineno))
        frame = frame.f_back
    frames.reverse()
    return traceback.StackSummary.extract(iter(frames))


# ---------------------------------------------------------------------------- version counter


class VersionCounter:
    """Shared by a tensor and its views; bumped by every in-place write.

    One is made for every tensor, so it has no __init__: `value` reads the class default 0
    until the first write gives the instance its own (creating it costs a third as much).
    """

    value = 0


# ---------------------------------------------------------------------------- ctx and nodes

_new_object = object.__new__

_FREED_MESSAGE = (
    "{op}: trying to backward through the graph a second time (or to access saved tensors "
    "after they were freed). Saved values are freed by backward() and mg.grad(); pass "
    "retain_graph=True to backward through the graph more than once."
)


class _SavedTensor:
    """A tensor saved for backward, with the version it had then.

    Outputs are held weakly (a strong reference would make the cycle node -> output ->
    grad_fn -> node); their array is kept, and a stand-in Tensor is rebuilt if needed.
    """

    __slots__ = ("tensor", "ref", "array", "device", "counter", "version", "node", "output_nr")

    def __init__(self, tensor, is_output=False):
        self.counter = tensor._version_counter
        self.version = self.counter.value
        if is_output:
            self.tensor = None
            self.ref = weakref.ref(tensor)
            self.array, self.device = tensor._data, tensor._device
            self.output_nr = tensor._output_nr
        else:
            self.tensor = tensor

    def _check_version(self, op_name):
        if self.counter.value != self.version:
            raise RuntimeError(
                f"{op_name}: one of the tensors saved for backward has been modified by an "
                f"in-place operation (its version is {self.counter.value}, expected "
                f"{self.version}); use an out-of-place op or clone() it first"
            )

    def unpack(self, op_name, node=None):
        self._check_version(op_name)
        if self.tensor is not None:
            return self.tensor
        tensor = self.ref()
        if tensor is None:
            from .tensor import Tensor

            tensor = Tensor._make(self.array, self.device, requires_grad=node is not None,
                                  version_counter=self.counter)
            tensor.grad_fn, tensor._output_nr = node, self.output_nr
        return tensor


class Context:
    """What one op application keeps between forward and backward.

    Internal ops save by position: `ctx.save_inputs(0, 1)`, `ctx.save_outputs(0)`, read back
    in backward as `ctx.saved_inputs` / `ctx.saved_outputs` (Tensors, version-checked).
    `mg.Function` users call `ctx.save_for_backward(*tensors)` and read `ctx.saved_tensors`.
    Plain attributes (`ctx.stride = ...`) hold anything else.
    """

    # Defaults live on the class: a Context is made for every op call, so __init__ only sets
    # what differs per call.
    _input_idx = ()
    _output_idx = ()
    _to_save = None
    _saved_inputs = None
    _saved_outputs = None
    _saved_tensors = None
    _freed = False
    _node_ref = None  # weak: node -> ctx is strong, so ctx -> node must not be
    # Large scratch an op keeps for its backward besides saved tensors (conv2d: the im2col
    # columns); dropped with them when the graph is freed.
    kept = None

    def __init__(self, device, needs_input_grad):
        self.device = device
        self.needs_input_grad = needs_input_grad

    @property
    def _node(self):
        return self._node_ref() if self._node_ref is not None else None

    @property
    def xp(self):
        """The array module of this op's device (numpy or cupy)."""
        return self.device.xp

    @property
    def kernels(self):
        """The kernel module of this op's device (see backend/reference.py for the interface)."""
        return self.device.kernels

    def save_inputs(self, *indices):
        self._input_idx = indices

    def save_outputs(self, *indices):
        self._output_idx = indices

    def save_for_backward(self, *tensors):
        self._to_save = tensors

    def _check_not_freed(self):
        if self._freed:
            raise RuntimeError(_FREED_MESSAGE.format(op=self._node.name if self._node else "backward"))

    def _unpack(self, saved):
        self._check_not_freed()
        if saved is None:
            return ()
        name = self._node.name if self._node else "backward"
        return tuple(s.unpack(name, self._node) if s is not None else None for s in saved)

    @property
    def saved_inputs(self):
        return self._unpack(self._saved_inputs)

    @property
    def saved_outputs(self):
        return self._unpack(self._saved_outputs)

    @property
    def saved_tensors(self):
        return self._unpack(self._saved_tensors)

    def _unpack_arrays(self, saved):
        """Saved values as raw arrays (for `backward_arrays`), version-checked."""
        if self._freed:
            self._check_not_freed()
        if saved is None:
            return ()
        arrays = []
        for s in saved:
            if s is None:
                arrays.append(None)
                continue
            if s.counter.value != s.version:
                s._check_version(self._node.name if self._node else "backward")
            arrays.append(s.tensor._data if s.tensor is not None else s.array)
        return tuple(arrays)

    @property
    def saved_input_arrays(self):
        """`saved_inputs` as raw arrays (what `backward_arrays` reads)."""
        return self._unpack_arrays(self._saved_inputs)

    @property
    def saved_output_arrays(self):
        """`saved_outputs` as raw arrays."""
        return self._unpack_arrays(self._saved_outputs)

    def _release(self):
        # Only what this op set is reset (the class defaults are None already): a write is
        # dearer than a read, and this runs for every node of every backward.
        if self._saved_inputs is not None:
            self._saved_inputs = None
        if self._saved_outputs is not None:
            self._saved_outputs = None
        if self._saved_tensors is not None:
            self._saved_tensors = None
        if self.kept is not None:
            self.kept = None
        self._freed = True


class Node:
    """One recorded op application: the `grad_fn` of its outputs.

    `edges[i]` says where the gradient of input i goes: `(node, output_nr)` for a tensor
    made by another op, `(leaf_tensor, None)` for a leaf that requires grad, or None.
    """

    # Defaults live on the class (a Node is made for every recorded op, so __init__ sets only
    # what differs per node; hence no __slots__).
    retained = None  # output_nr -> weakref of a tensor that called retain_grad()
    hooks = None  # output_nr -> HookDict of that output's Tensor.register_hook hooks
    trace = None  # under detect_anomaly: the user's stack at the forward call
    in_backward = False  # made while a create_graph=True backward ran: part of a gradient's graph

    def __init__(self, fn, ctx, edges, out_meta, device):
        self.fn = fn
        self.ctx = ctx
        self.edges = edges
        self.out_meta = out_meta  # (shape, dtype) per output, to make zero grads
        self.device = device  # where the outputs (and so their gradients) live
        state = _state
        if state.anomaly_enabled:
            self.trace = _user_stack()
        if state.in_backward:
            self.in_backward = True

    @property
    def name(self):
        return self.fn.__name__ + "Backward"

    @property
    def next_functions(self):
        """PyTorch-style view of the graph: ((node_or_leaf, output_nr), ...)."""
        return tuple(e if e is not None else (None, 0) for e in self.edges)

    def __repr__(self):
        return f"<{self.name}>"


# ---------------------------------------------------------------------------- Function


def _scan_args(op_name, args):
    """One pass over an op's arguments: (the common device, which inputs need a gradient,
    the raw arrays an Op's forward works on). Non-Tensor arguments pass through as they are."""
    Tensor = _Tensor
    device = None
    needs = []
    raw = []
    for a in args:
        if isinstance(a, Tensor):
            d = a._device
            if device is None:
                device = d
            elif d is not device and d != device:
                raise RuntimeError(
                    f"{op_name}: expected all tensors on the same device, got {device} and {d}"
                )
            needs.append(a._requires_grad)
            raw.append(a._data)
        else:
            needs.append(False)
            raw.append(a)
    return (device if device is not None else CPU), tuple(needs), raw


class Function:
    """A differentiable op with a hand-written backward (PyTorch's `torch.autograd.Function`).

    Subclass it with two static methods and call `.apply(...)`:

    >>> class Cube(mg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):               # x is a Tensor; runs under no_grad
    ...         ctx.save_for_backward(x)
    ...         return x * x * x
    ...     @staticmethod
    ...     def backward(ctx, grad):           # grad: Tensor of the output's shape
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x * x * grad        # one gradient per forward argument
    >>> y = Cube.apply(x)

    Check a new Function with `mg.gradcheck` before trusting it.
    """

    # Internal ops (`Op`) work on raw arrays in forward; user Functions get Tensors.
    _forward_on_arrays = False
    # Shape ops whose output may be a view of input 0 set this.
    _view_of_input0 = False
    # An op whose output lives on `kwargs["device"]` rather than its inputs' device (ToDevice).
    _moves_to_device = False
    # Optional `backward_arrays(ctx, *grad_arrays)`: the same gradient as `backward`, on raw
    # arrays, read from `ctx.saved_input_arrays` / `ctx.saved_output_arrays`; used by a
    # backward without create_graph. Ops without one run `backward` on wrapped arrays.
    backward_arrays = None

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        Tensor = _Tensor
        device = None
        # The most common calls, a unary or binary op on Tensors of one device, without the
        # generic loop and its lists.
        n = len(args)
        if n == 2:
            a, b = args
            if isinstance(a, Tensor) and isinstance(b, Tensor) and a._device is b._device:
                device = a._device
                needs_input_grad = (a._requires_grad, b._requires_grad)
                raw = (a._data, b._data)
        elif n == 1:
            a = args[0]
            if isinstance(a, Tensor):
                device = a._device
                needs_input_grad = (a._requires_grad,)
                raw = (a._data,)
        if device is None:
            device, needs_input_grad, raw = _scan_args(cls.__name__, args)
        record = True in needs_input_grad and _state.grad_enabled
        ctx = _new_object(Context)  # Context(device, needs_input_grad) without the call
        ctx.device, ctx.needs_input_grad = device, needs_input_grad

        if cls._forward_on_arrays:
            result = cls.forward(ctx, *raw, **kwargs)
            out_device = kwargs["device"] if cls._moves_to_device else device
            if isinstance(result, tuple):
                outputs = result
                out_tensors = tuple([Tensor._make(o, out_device) for o in outputs])
            else:
                # Tensor._make inlined: this runs once per op.
                out = _new_object(Tensor)
                out._data, out._device, out._version_counter = result, out_device, VersionCounter()
                out_tensors = (out,)
        else:
            with no_grad():
                result = cls.forward(ctx, *args, **kwargs)
            outputs = result if isinstance(result, tuple) else (result,)
            for o in outputs:
                if not isinstance(o, Tensor):
                    raise TypeError(f"{cls.__name__}.forward must return Tensors, got {type(o).__name__}")
            # New output objects share the arrays and version counters of what forward returned.
            out_tensors = tuple(Tensor._make(o._data, o.device, version_counter=o._version_counter)
                                for o in outputs)

        if cls._view_of_input0 and ctx.xp.may_share_memory(out_tensors[0]._data, args[0]._data):
            # A view shares its base's version counter, so in-place writes through either
            # are seen by backward checks on both.
            view, source = out_tensors[0], args[0]
            view._version_counter = source._version_counter
            if _state.grad_enabled:
                # Remember how to re-derive it from its base, for in-place writes through
                # views (Tensor._inplace_on_view) and views of bases written since.
                if source._base is not None:
                    view._base, view._view_ops = source._base, source._view_ops + ((cls, kwargs),)
                else:
                    view._base, view._view_ops = source, ((cls, kwargs),)
                view._view_version = view._version_counter.value
        if record:
            _record(cls, ctx, args, out_tensors, None if cls._forward_on_arrays else outputs)
            if _state.op_observer is not None:
                _state.op_observer(cls, args, kwargs, out_tensors)
        return out_tensors if isinstance(result, tuple) else out_tensors[0]


class Op(Function):
    """Base of minigrad's built-in ops: `forward(ctx, *arrays)` gets raw numpy/cupy arrays
    (fast, no graph), `backward(ctx, *grads)` gets and returns Tensors (so it is itself
    differentiable). One gradient per positional argument of forward (None where none)."""

    _forward_on_arrays = True


class ViewScatter(Op):
    """y = base with view(base) replaced by v (view = a chain of view ops);
    dbase = gy with the view's region zeroed, dv = view(gy)."""

    @staticmethod
    def forward(ctx, base, v, *, ops):
        ctx.ops, ctx.v_shape = ops, v.shape
        y = base.copy()
        _view_of_array(y, ops, ctx)[...] = v
        return y

    @staticmethod
    def backward(ctx, gy):
        from .tensor import Tensor

        need_base, need_v = ctx.needs_input_grad
        zero = Tensor._make(ctx.xp.zeros(ctx.v_shape, gy.dtype), gy.device)
        gbase = ViewScatter.apply(gy, zero, ops=ctx.ops) if need_base else None
        gv = apply_view_ops(gy, ctx.ops) if need_v else None
        return gbase, gv


def _view_of_array(array, ops, ctx):
    for fn, kwargs in ops:
        array = fn.forward(Context(ctx.device, (False,)), array, **kwargs)
    return array


def apply_view_ops(tensor, ops):
    """Re-apply a chain of recorded view ops (as Functions) to a Tensor."""
    for fn, kwargs in ops:
        tensor = fn.apply(tensor, **kwargs)
    return tensor


def preserve_saved_input(node, tensor):
    """An in-place op runs out of place and then writes into `tensor`: if its own node saved
    `tensor` (b *= a saves b for a's gradient), keep a copy of the values it saw instead, with
    their history (PyTorch's original_self)."""
    from .tensor import Tensor

    ctx = node.ctx
    for saved in (ctx._saved_inputs, ctx._saved_tensors):
        for s in saved or ():
            if s is not None and s.tensor is tensor:
                copy = Tensor._make(tensor._data.copy(), tensor._device, tensor._requires_grad)
                copy._grad_fn, copy._output_nr = tensor.grad_fn, tensor._output_nr
                s.tensor, s.counter, s.version = copy, copy._version_counter, 0


def _record(fn, ctx, args, outputs, returned=None):
    """Make the node of one op application. `returned`: for a user Function, the Tensors its
    forward returned (`outputs` are new objects sharing their arrays)."""
    # (Plain loops, not comprehensions or helper calls: this runs once per op, and each
    # extra Python call here is a measurable share of a small op's cost.)
    edges = []
    for a, needed in zip(args, ctx.needs_input_grad):
        if needed:  # a Tensor that requires grad
            grad_fn = a._grad_fn if a._base is None else a.grad_fn  # (a view may refresh)
            edges.append((grad_fn, a._output_nr) if grad_fn is not None else (a, None))
        else:
            edges.append(None)
    edges = tuple(edges)
    if len(outputs) == 1:
        out = outputs[0]
        data = out._data
        node = Node(fn, ctx, edges, ((data.shape, data.dtype),), out._device)
        if data.dtype.kind == "f":
            out._requires_grad = True
            out._grad_fn = node  # (output_nr 0)
    else:
        out_meta = tuple([(o._data.shape, o._data.dtype) for o in outputs])
        node = Node(fn, ctx, edges, out_meta, outputs[0]._device)
        for i, out in enumerate(outputs):
            if out._data.dtype.kind == "f":
                out._requires_grad = True
                out._grad_fn, out._output_nr = node, i
    ctx._node_ref = weakref.ref(node)
    if ctx._input_idx:
        saved = []
        for i in ctx._input_idx:
            a = args[i]
            if isinstance(a, _Tensor):
                # _SavedTensor(a), without the call: an input keeps the tensor and its version.
                s = _new_object(_SavedTensor)
                s.tensor, s.counter = a, a._version_counter
                s.version = s.counter.value
                saved.append(s)
            else:
                saved.append(None)
        ctx._saved_inputs = tuple(saved)
    if ctx._output_idx:
        ctx._saved_outputs = tuple([_SavedTensor(outputs[i], True) for i in ctx._output_idx])
    if ctx._to_save is not None:
        # A saved output must come back attached to this node (so a backward that uses it
        # is differentiable, as for PyTorch), and be held weakly (no node -> output cycle).
        position = {id(o): i for i, o in enumerate(returned or outputs)}
        ctx._saved_tensors = tuple(
            None if t is None
            else _SavedTensor(outputs[position[id(t)]], is_output=True) if id(t) in position
            else _SavedTensor(t)
            for t in ctx._to_save
        )
        ctx._to_save = None


# ---------------------------------------------------------------------------- the engine


class InvalidGradientError(RuntimeError):
    """A backward returned a gradient of the wrong shape (or, under `strict_gradients`, dtype)."""


class strict_gradients(_GradModeContext):  # noqa: N801
    """Inside, a backward returning a gradient whose dtype differs from its input's raises
    InvalidGradientError instead of being cast (gradcheck uses this to report it)."""

    def __enter__(self):
        self._saved.append(_state.strict_gradients)
        _state.strict_gradients = True
        return self

    def __exit__(self, *exc):
        _state.strict_gradients = self._saved.pop()
        return False


def _grad_target_meta(node, index, edge_target):
    target, output_nr = edge_target
    return (target.shape, target.dtype) if output_nr is None else target.out_meta[output_nr]


def _check_grad(node, index, grad, edge_target):
    """A backward result must match its input's shape; cast to the input's dtype."""
    if not isinstance(grad, _Tensor):
        raise TypeError(f"{node.name} returned a {type(grad).__name__} for input {index}; expected a Tensor or None")
    shape, dtype = _grad_target_meta(node, index, edge_target)
    if grad.shape != shape:
        raise InvalidGradientError(
            f"{node.name} returned an invalid gradient for input {index}: shape {grad.shape}, "
            f"expected {shape}"
        )
    if grad.dtype != dtype:
        if _state.strict_gradients:
            raise InvalidGradientError(
                f"{node.name} returned an invalid gradient for input {index}: dtype {grad.dtype}, "
                f"expected {dtype}"
            )
        grad = grad.to(dtype)
    return grad


def _check_grad_array(node, index, grad, edge_target):
    """`_check_grad` for a raw-array gradient (the backward without create_graph)."""
    target, output_nr = edge_target
    if output_nr is None:
        data = target._data
        shape, dtype = data.shape, data.dtype
    else:
        shape, dtype = target.out_meta[output_nr]
    if grad.dtype is dtype and grad.shape == shape:  # the common case, checked cheaply
        return grad
    if grad.shape != shape:
        raise InvalidGradientError(
            f"{node.name} returned an invalid gradient for input {index}: shape "
            f"{tuple(grad.shape)}, expected {tuple(shape)}"
        )
    if grad.dtype != dtype:
        if _state.strict_gradients:
            raise InvalidGradientError(
                f"{node.name} returned an invalid gradient for input {index}: dtype {grad.dtype}, "
                f"expected {dtype}"
            )
        grad = grad.astype(dtype)
    return grad


def _check_gradient_count(node, input_grads):
    """backward must return one gradient per forward argument, as in PyTorch: extra trailing
    Nones are dropped, anything else raises (a missing gradient would silently leave a
    parameter's .grad None forever)."""
    expected = len(node.edges)
    if len(input_grads) > expected and all(g is None for g in input_grads[expected:]):
        return input_grads[:expected]
    raise RuntimeError(
        f"function {node.name} returned an incorrect number of gradients (expected {expected}, "
        f"got {len(input_grads)}): {node.fn.__name__}.backward must return one gradient (or "
        f"None) per argument of forward"
    )


def _check_finite(node, data, xp, index):
    """detect_anomaly's check: raise at the first gradient holding NaN or Inf."""
    if bool(xp.isfinite(data).all()):
        return
    kinds = [k for k, f in (("NaN", xp.isnan), ("Inf", xp.isinf)) if bool(f(data).any())]
    if node.trace:
        where = "".join(traceback.format_list(node.trace))
    else:
        where = "  (unknown: the op was called outside detect_anomaly)\n"
    raise RuntimeError(
        f"detect_anomaly: {node.name} returned {' and '.join(kinds)} values in its gradient "
        f"for input {index} (shape {tuple(data.shape)}). The forward call of "
        f"{node.fn.__name__} that made this node (most recent call last):\n{where}"
    )


def _count_dependencies(root_nodes):
    """{id(node): number of its consumers} over the graph reachable from root_nodes."""
    dependencies = {}
    root_ids = {id(node) for node in root_nodes}
    stack = list({id(node): node for node in root_nodes}.values())
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is None:
                continue
            parent, output_nr = edge
            if output_nr is None:  # a leaf: nothing to wait for
                continue
            key = id(parent)
            count = dependencies.get(key)
            if count is None:  # first seen (so `dependencies` doubles as the visited set)
                dependencies[key] = 1
                if key not in root_ids:  # (the roots are on the stack already)
                    stack.append(parent)
            else:
                dependencies[key] = count + 1
    return dependencies


def run_backward(roots, root_grads, retain_graph=False, create_graph=False, inputs=None):
    """Backpropagate `root_grads` (Tensors) from `roots`.

    Gradients accumulate into `.grad` of leaves; when `inputs` is given (mg.grad), they are
    returned for those tensors instead and no `.grad` is touched. Without create_graph the
    gradients flow as raw arrays (`on_arrays`) and only the results become Tensors.
    """
    on_arrays = not create_graph

    # Where to capture gradients for mg.grad: leaves by id, non-leaves by (node, output_nr).
    captured = None
    if inputs is not None:
        captured = {}
        capture_keys = [
            (id(t), None) if t.grad_fn is None else (id(t.grad_fn), t._output_nr) for t in inputs
        ]
        wanted = set(capture_keys)

    # 1. Count each node's consumers inside this graph (explicit stack, no recursion).
    root_nodes = [t.grad_fn for t in roots if t.grad_fn is not None]
    dependencies = _count_dependencies(root_nodes)

    pending = {}  # id(node) -> [grad per output] (arrays, or Tensors with create_graph)
    # id(leaf) -> [leaf, its gradient summed over every use, whether that is a fresh sum];
    # written to `.grad` (or captured) once the walk is done.
    leaf_grads = {}

    def add_grad(edge, grad):
        target, output_nr = edge
        if output_nr is None:  # a leaf
            entry = leaf_grads.get(id(target))
            if entry is None:
                leaf_grads[id(target)] = [target, grad, False]
            elif entry[2] and on_arrays:
                # A sum the engine made earlier (fresh): nothing else holds it, and `grad` was
                # checked to have the leaf's shape and dtype, so add in place (no new array).
                # (A 0-d sum may be a numpy scalar, for which += simply rebinds.)
                entry[1] += grad
            else:
                entry[1] = entry[1] + grad
                entry[2] = True
            return
        slot = pending.get(id(target))
        if slot is None:
            slot = pending[id(target)] = [None] * len(target.out_meta)
        slot[output_nr] = grad if slot[output_nr] is None else slot[output_nr] + grad

    with set_grad_enabled(create_graph), _BackwardMark(create_graph):
        for t, g in zip(roots, root_grads):
            if on_arrays:
                g = g._data
            if t.grad_fn is not None:
                add_grad((t.grad_fn, t._output_nr), g)
            elif t.requires_grad:
                add_grad((t, None), g)

        # 2. Run each node once all its consumers have run (its gradients are complete).
        ready = [n for n in root_nodes if dependencies.get(id(n), 0) == 0]
        ready = list({id(n): n for n in ready}.values())
        anomaly = _state.anomaly_enabled
        while ready:
            node = ready.pop()
            grads = pending.pop(id(node), None)
            if grads is None or (len(grads) > 1 and any(g is None for g in grads)):
                # Outputs that received no gradient (unused downstream) get zeros.
                grads = grads or [None] * len(node.out_meta)
                grads = [g if g is not None else _zero_grad(node, shape, dtype, on_arrays)
                         for g, (shape, dtype) in zip(grads, node.out_meta)]
            if node.hooks:  # Tensor.register_hook on an output: before retain_grad / capture
                grads = [_run_tensor_hooks(node.hooks[nr], g, node.device, on_arrays)
                         if nr in node.hooks else g for nr, g in enumerate(grads)]
            if node.retained:
                for nr, ref in node.retained.items():
                    t = ref()
                    if t is not None:
                        if on_arrays:
                            _accumulate_array_into_leaf(t, grads[nr], False)
                        else:
                            _accumulate_into_leaf(t, grads[nr], create_graph)
            if captured is not None:
                for nr, g in enumerate(grads):
                    key = (id(node), nr)
                    if key in wanted:
                        captured[key] = g

            # 3. The node's backward: on arrays (backward_arrays, or backward on arrays
            # wrapped in Tensors and unwrapped below), or on Tensors for create_graph.
            fn, ctx = node.fn, node.ctx
            unwrap = False
            if not on_arrays:
                input_grads = fn.backward(ctx, *grads)
            elif fn.backward_arrays is not None:
                input_grads = fn.backward_arrays(ctx, *grads)
            else:
                unwrap = True
                device = node.device
                input_grads = fn.backward(ctx, *[_Tensor._make(g, device) for g in grads])
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            if len(input_grads) != len(node.edges):
                input_grads = _check_gradient_count(node, input_grads)
            if not retain_graph:
                ctx._release()

            # 4. Pass each input's gradient on, checked; release the producers.
            index = -1
            for edge in node.edges:
                index += 1
                if edge is None:
                    continue
                grad = input_grads[index]
                target, output_nr = edge
                key = id(target)
                if grad is not None:
                    if not on_arrays:
                        grad = _check_grad(node, index, grad, edge)
                        if anomaly:
                            _check_finite(node, grad._data, grad.device.xp, index)
                    else:
                        if unwrap:
                            if not isinstance(grad, _Tensor):
                                raise TypeError(f"{node.name} returned a {type(grad).__name__} "
                                                f"for input {index}; expected a Tensor or None")
                            grad = grad._data
                        # _check_grad_array's common case (right shape and dtype) inline: this
                        # runs once per gradient term, so a call here is a measurable cost.
                        if output_nr is None:
                            data = target._data
                            shape, dtype = data.shape, data.dtype
                        else:
                            shape, dtype = target.out_meta[output_nr]
                        if grad.dtype is not dtype or grad.shape != shape:
                            grad = _check_grad_array(node, index, grad, edge)
                        if anomaly:
                            _check_finite(node, grad, _device_of_edge(edge).xp, index)
                    # add_grad(edge, grad), inline (it runs once per gradient term).
                    if output_nr is None:  # a leaf
                        entry = leaf_grads.get(key)
                        if entry is None:
                            leaf_grads[key] = [target, grad, False]
                        elif entry[2] and on_arrays:
                            entry[1] += grad  # (in place into the engine's own sum: see add_grad)
                        else:
                            entry[1] = entry[1] + grad
                            entry[2] = True
                    elif key in pending:
                        add_grad(edge, grad)
                    elif len(target.out_meta) == 1:  # a node's first gradient (the usual case)
                        pending[key] = [grad]
                    else:
                        slot = pending[key] = [None] * len(target.out_meta)
                        slot[output_nr] = grad
                if output_nr is not None:
                    count = dependencies[key] - 1
                    dependencies[key] = count
                    if count == 0:
                        ready.append(target)

        # 5. Leaves: their hooks see the summed gradient once (as PyTorch's AccumulateGrad),
        # then it is accumulated into `.grad`, or captured for mg.grad.
        for leaf, grad, fresh in leaf_grads.values():
            hooks = leaf.__dict__.get("_backward_hooks")
            if hooks:
                hooked = _run_tensor_hooks(hooks, grad, leaf._device, on_arrays)
                fresh = fresh and hooked is grad  # a hook's own tensor may be held elsewhere
                grad = hooked
            if captured is not None:
                key = (id(leaf), None)
                if key in wanted:
                    captured[key] = grad
            elif on_arrays:
                _accumulate_array_into_leaf(leaf, grad, fresh)
            else:
                _accumulate_into_leaf(leaf, grad, create_graph)

    if captured is None:
        return None
    result = [captured.get(key) for key in capture_keys]
    if on_arrays:
        result = [None if g is None else _Tensor._make(g, t._device)
                  for g, t in zip(result, inputs)]
    return result


def _device_of_edge(edge):
    target, output_nr = edge
    return target._device if output_nr is None else target.device


def _zero_grad(node, shape, dtype, on_arrays):
    """The gradient of an output that received none (it was not used downstream)."""
    zeros = node.device.xp.zeros(shape, dtype)
    return zeros if on_arrays else _Tensor._make(zeros, node.device)


def _run_tensor_hooks(hooks, grad, device, on_arrays):
    """Call each hook on the gradient in registration order; a hook that returns a Tensor
    replaces the gradient (it must keep the shape, dtype and device). Hooks always get a
    Tensor: a raw-array gradient (on_arrays) is wrapped for them and unwrapped after."""
    if on_arrays:
        array = grad
        grad = _Tensor._make(array, device)
        result = _run_tensor_hooks(hooks, grad, device, False)
        return array if result is grad else result._data
    for hook in tuple(hooks.values()):
        result = hook(grad)
        if result is None:
            continue
        if not isinstance(result, _tensor_class()):
            raise TypeError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} returned "
                            f"{type(result).__name__}; it must return a Tensor or None")
        changes = [f"{what} (was {a}, got {b})" for what, a, b in (
            ("shape", tuple(grad.shape), tuple(result.shape)), ("dtype", grad.dtype, result.dtype),
            ("device", grad.device, result.device)) if a != b]
        if changes:
            raise RuntimeError(f"register_hook: hook {getattr(hook, '__name__', hook)!r} has "
                               f"changed the {', '.join(changes)} of the gradient")
        grad = result
    return grad


class _BackwardMark:
    """While a create_graph=True backward runs, nodes it records get `in_backward=True`."""

    __slots__ = ("on", "saved")

    def __init__(self, on):
        self.on = on

    def __enter__(self):
        self.saved = _state.in_backward
        if self.on:
            _state.in_backward = True

    def __exit__(self, *exc):
        _state.in_backward = self.saved
        return False


def _accumulate_into_leaf(tensor, grad, create_graph):
    """Add a Tensor gradient into `tensor.grad` (the create_graph=True backward)."""
    if create_graph:
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
    else:
        _accumulate_array_into_leaf(tensor, grad._data, False)


def _accumulate_array_into_leaf(tensor, array, fresh):
    """Add a raw-array gradient into `tensor.grad` (a new array: the old one may be shared).
    fresh: `array` is a sum made by the engine, which nothing else holds."""
    grad = tensor.grad
    if grad is None:
        device = tensor._device
        # Copy unless fresh: the array may belong to another tensor (or to the user's
        # `gradient`). (asarray: a sum of 0-d arrays is a numpy scalar.)
        array = device.xp.asarray(array) if fresh else device.xp.array(array, copy=True)
        tensor.grad = _Tensor._make(array, device)
    else:
        grad._data = grad._data + array


def _root_grads(outputs, grad_outputs, op):
    from .tensor import Tensor

    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs; output {i} "
                    f"has shape {out.shape}, so pass a gradient of that shape"
                )
            g = Tensor._make(out.device.xp.ones(out.shape, out.dtype), out.device)
        elif not isinstance(g, Tensor):
            g = Tensor._make(out.device.xp.asarray(g, dtype=out.dtype), out.device)
        if g.shape != out.shape:
            raise RuntimeError(f"{op}: gradient has shape {g.shape} but output {i} has shape {out.shape}")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensors)/d(leaf) into every leaf's `.grad` (see `Tensor.backward`)."""
    from .tensor import Tensor

    tensors = (tensors,) if isinstance(tensors, Tensor) else tuple(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = (grad_tensors,) * len(tensors) if grad_tensors is None else (grad_tensors,)
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError(
                "backward: element 0 of tensors does not require grad and does not have a grad_fn"
            )
    grads = _root_grads(tensors, grad_tensors, "backward")
    retain_graph = create_graph if retain_graph is None else retain_graph
    run_backward(tensors, grads, retain_graph=retain_graph, create_graph=create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of `outputs` w.r.t. `inputs`, returned (not accumulated), as
    `torch.autograd.grad`. With `create_graph=True` the result can be differentiated again."""
    from .tensor import Tensor

    single_output = isinstance(outputs, Tensor)
    outputs = (outputs,) if single_output else tuple(outputs)
    inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,) * len(outputs) if grad_outputs is None else (grad_outputs,)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    for i, o in enumerate(outputs):
        if not o.requires_grad:
            raise RuntimeError(f"grad: output {i} does not require grad and does not have a grad_fn")
    grads = _root_grads(outputs, grad_outputs, "grad")
    retain_graph = create_graph if retain_graph is None else retain_graph
    result = run_backward(outputs, grads, retain_graph=retain_graph, create_graph=create_graph,
                          inputs=inputs)
    for i, g in enumerate(result):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} was not used in the graph of the outputs; pass allow_unused=True "
                "to get None for it"
            )
        if g is not None and not create_graph:
            result[i] = g.detach()
    return tuple(result)


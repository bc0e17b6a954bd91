"""`Optimizer`: parameter groups, per-parameter state, zero_grad and (de)serialisation.

Subclasses implement `step()`. Updates run on the parameters' raw arrays in place, outside
the graph (parameters are leaves), and bump each parameter's version counter so that a
graph that saved the old values refuses to backward through them.
"""

import copy

from ..autograd import enable_grad
from ..tensor import Tensor


class _RequiredParameter:
    def __repr__(self):
        return "<required parameter>"


required = _RequiredParameter()


class Optimizer:
    """Base of SGD, Adam, AdamW, RMSprop.

    Args:
        params: an iterable of Tensors, or of dicts {"params": [...], <hyperparameter>: ...}
            (parameter groups with their own settings).
        defaults: the hyperparameters used where a group does not set them.
    """

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        """Add a group of parameters with its own hyperparameters (defaults fill the rest)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group, params=params)
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            group.setdefault(name, default)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if existing & {id(p) for p in params}:
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none: bool = True):
        """Reset gradients: to None by default (PyTorch's default), else to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad._data[...] = 0

    def step(self, closure=None):
        raise NotImplementedError

    @staticmethod
    def _gradients(group):
        """(param, gradient array) for each parameter of `group` that has a gradient; the
        gradient is negated when the group has maximize=True."""
        maximize = group.get("maximize", False)
        for p in group["params"]:
            if p.grad is not None:
                yield p, (-p.grad._data if maximize else p.grad._data)

    def _closure_loss(self, closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dict

    def state_dict(self):
        """A copy: {"state": {index: {name: Tensor | number}},
        "param_groups": [{<hyperparameters>, "params": [indices]}]}.

        Parameters are numbered in the order of the groups, as in PyTorch.
        """
        index_of = {}
        groups = []
        for group in self.param_groups:
            packed = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index_of.setdefault(id(p), len(index_of))
            packed["params"] = [index_of[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index_of[id(p)]] = {k: _copy_value(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and state saved by `state_dict()` (values are copied)."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)} vs {len(self.param_groups)})")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group {i} ({len(s['params'])} vs {len(g['params'])} params)"
                )
        param_of = {}
        for g, s in zip(self.param_groups, saved_groups):
            for index, p in zip(s["params"], g["params"]):
                param_of[index] = p
        self.state = {}
        for index, values in state_dict["state"].items():
            index = int(index)
            if index not in param_of:
                raise ValueError(f"loaded state dict has state for unknown parameter index {index}")
            p = param_of[index]
            self.state[p] = {k: _cast_like(v, p, k) for k, v in values.items()}
        for g, s in zip(self.param_groups, saved_groups):
            for k, v in s.items():
                if k != "params":
                    g[k] = tuple(v) if k == "betas" else copy.deepcopy(v)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(k for k in group if k != "params"):
                lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)


def _copy_value(v):
    if isinstance(v, Tensor):
        return Tensor._make(v._data.copy(), v.device)
    return copy.deepcopy(v)


def _cast_like(v, param, key):
    """State tensors take the parameter's dtype and device (except the integer `step`)."""
    import numpy as np

    if isinstance(v, Tensor):
        array = v._data
    elif isinstance(v, np.ndarray):
        array = v
    else:
        return copy.deepcopy(v)
    if key == "step":
        return int(np.asarray(array).item()) if array.size == 1 else array
    xp = param.device.xp
    array = xp.array(array.get() if hasattr(array, "get") and xp is np else array,
                     dtype=param.dtype if array.dtype.kind == "f" else array.dtype, copy=True)
    return Tensor._make(array, param.device)


def check_nonnegative(value, what):
    """ValueError "Invalid <what>: <value>" unless 0 <= value (so NaN is refused too)."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def bump_version(p):
    """Record an in-place write to a parameter (so stale saved graphs are detected)."""
    p._version_counter.value += 1


def lerp_(a, b, weight):
    """a <- a + weight * (b - a) in place, rounded as torch.lerp_ (which switches form at 0.5)."""
    if weight < 0.5:
        a += weight * (b - a)
    else:
        a[...] = b - (b - a) * (1 - weight)

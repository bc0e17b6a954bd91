"""Adagrad and Adadelta (PyTorch's update rules, single-tensor form)."""

from .. import factories
from ..autograd import no_grad
from .optimizer import Optimizer, bump_version, check_nonnegative


class Adagrad(Optimizer):
    """sum += g^2;  p -= clr g / (sqrt(sum) + eps),  clr = lr / (1 + (step - 1) lr_decay).

    With weight_decay, g += weight_decay p first; maximize uses -g. The accumulator starts
    at `initial_accumulator_value` (state is made at construction, as in PyTorch).
    """

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, foreach=None, *, maximize=False):
        check_nonnegative(lr, "learning rate")
        check_nonnegative(lr_decay, "lr_decay value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(initial_accumulator_value, "initial_accumulator_value value")
        check_nonnegative(eps, "epsilon value")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p, group):
        state = self.state[p] = {
            "step": 0,
            "sum": factories.full_like(p, group["initial_accumulator_value"]),
        }
        return state

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
            weight_decay = group["weight_decay"]
            for p, g in self._gradients(group):
                xp = p.device.xp
                state = self.state.get(p) or self._init_state(p, group)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p._data
                clr = lr / (1 + (state["step"] - 1) * lr_decay)
                acc = state["sum"]._data
                acc += g * g
                std = xp.sqrt(acc)
                std += eps
                p._data += (-clr * g) / std
                bump_version(p)
        return loss


class Adadelta(Optimizer):
    """v = rho v + (1-rho) g^2;  delta = sqrt(u + eps) / sqrt(v + eps) g;
    u = rho u + (1-rho) delta^2;  p -= lr delta.

    With weight_decay, g += weight_decay p first; maximize uses -g.
    """

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 maximize=False):
        check_nonnegative(lr, "learning rate")
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_nonnegative(eps, "epsilon value")
        check_nonnegative(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, rho, eps, weight_decay = group["lr"], group["rho"], group["eps"], group["weight_decay"]
            for p, g in self._gradients(group):
                xp = p.device.xp
                state = self.state.get(p)
                if not state:
                    state = self.state[p] = {"step": 0, "square_avg": factories.zeros_like(p),
                                             "acc_delta": factories.zeros_like(p)}
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p._data
                v, u = state["square_avg"]._data, state["acc_delta"]._data
                v *= rho
                v += ((1 - rho) * g) * g
                std = xp.sqrt(v + eps)
                delta = xp.sqrt(u + eps)
                delta /= std
                delta *= g
                u *= rho
                u += ((1 - rho) * delta) * delta
                p._data += -lr * delta
                bump_version(p)
        return loss

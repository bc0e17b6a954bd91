"""RMSprop (PyTorch's update rule, with momentum and `centered`)."""

from .. import factories
from ..autograd import no_grad
from .optimizer import Optimizer, bump_version, check_nonnegative, lerp_


class RMSprop(Optimizer):
    """v = alpha v + (1-alpha) g^2;  avg = sqrt(v - mean_g^2 if centered else v) + eps;
    buf = momentum buf + g / avg, p -= lr buf  (or p -= lr g / avg without momentum)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, *, maximize=False):
        check_nonnegative(lr, "learning rate")
        check_nonnegative(eps, "epsilon value")
        check_nonnegative(momentum, "momentum value")
        check_nonnegative(weight_decay, "weight_decay value")
        check_nonnegative(alpha, "alpha value")
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    @no_grad()
    def step(self, closure=None):
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
            weight_decay, momentum = group["weight_decay"], group["momentum"]
            centered = group["centered"]
            for p, g in self._gradients(group):
                xp = p.device.xp
                state = self.state.get(p)
                if not state:
                    state = self.state[p] = {"step": 0, "square_avg": factories.zeros_like(p)}
                    if momentum > 0:
                        state["momentum_buffer"] = factories.zeros_like(p)
                    if centered:
                        state["grad_avg"] = factories.zeros_like(p)
                state["step"] += 1
                if weight_decay != 0:
                    g = g + weight_decay * p._data
                v = state["square_avg"]._data
                v *= alpha
                v += ((1 - alpha) * g) * g
                if centered:
                    mean_g = state["grad_avg"]._data
                    lerp_(mean_g, g, 1 - alpha)
                    avg = xp.sqrt(v - mean_g * mean_g)
                else:
                    avg = xp.sqrt(v)
                avg += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += g / avg
                    p._data -= lr * buf
                else:
                    p._data += (-lr * g) / avg
                bump_version(p)
        return loss

"""`Entry` (one public op) and `Case` (one way to exercise it): the catalogue's two types.

An entry says where the op is exposed and what its torch counterpart is; its cases say how
to sample inputs, what numpy computes, and which arguments to pass. Each case becomes one
`OpSpec` (spec.py), the row that the gradcheck / numpy / torch-oracle tests and the
`minigrad gradcheck` table iterate.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Optional

from ..samplers import as_float64
from ..spec import OpSpec

EXPOSURES = ("mg", "Tensor", "F")
DERIVED = "derived"  # a Case's fn / torch_fn left to the entry (impl and torch path + args)


def resolve(path):
    """The object at a dotted path: "minigrad.ops.elementwise.exp", "torch.nn.functional.gelu",
    "torch.Tensor.T". Imports the longest importable module prefix, then walks attributes;
    AttributeError / ImportError name the whole path."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            if cut == 1:
                raise
            continue
        for i, attr in enumerate(parts[cut:], start=cut):
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                raise AttributeError(f"{path}: {'.'.join(parts[:i])} has no attribute {attr!r}") from None
        return obj
    raise ImportError(path)


@dataclass(frozen=True)
class Case:
    """One way to exercise an op (becomes one OpSpec).

    shapes:     callable(rng) -> list of shape cases; a shape case is a tuple of input shapes.
    sample:     callable(rng, shape_case) -> tuple of arrays (made float64), away from kinks.
    reference:  numpy forward on the same arrays, or None.
    args, kwargs: the non-tensor arguments; with them the entry derives
                fn = impl(*tensors, *args, **kwargs) and torch_fn = <torch path>(same).
    fn:         an explicit callable(*tensors) instead (operators, baked-in index keys ...).
    torch_fn:   an explicit torch callable, or None for "no torch comparison" of this case.
    name:       the spec's name; default: the entry's name (give one to every further case).
    second_order: gradgradcheck this case (default: the first case of an entry of order 2).
    """

    shapes: Callable
    sample: Callable
    reference: Callable | None = None
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    fn: object = DERIVED
    torch_fn: object = DERIVED
    name: str | None = None
    noncontiguous: bool = True
    avoid: str = ""
    second_order: bool | None = None


@dataclass(frozen=True)
class Entry:
    """One public op, declared once.

    name:     the public name (mg.<name>, Tensor.<name>, F.<name>).
    impl:     dotted path of the public function, next to its Op class
              ("minigrad.ops.elementwise.exp").
    expose:   where it is reachable: any of "mg" (module function), "Tensor" (method),
              "F" (mg.nn.functional). Tensor methods, mg's and F's names, the ops package
              and F.__all__ are all derived from this.
    F_impl:   F's own wrapper when it differs from impl (F.relu has inplace=).
    nn:       the nn module class, as a path under minigrad.nn ("activation.Softplus").
    operator: the Tensor dunder that also reaches it ("__add__").
    aliases:  other names bound to the same function where it is exposed ("clip").
    torch:    the torch counterpart as a dotted path ("torch.clamp",
              "torch.nn.functional.softplus"); None when torch has none.
    order:    0 = no gradient, 1 = first derivatives (gradcheck), 2 = also second
              (gradgradcheck).
    cases:    how to exercise it; empty only with a `note` saying where it is tested.
    """

    name: str
    impl: str
    expose: tuple = ("mg", "Tensor")
    torch: str | None = None
    order: int = 2
    cases: tuple = ()
    F_impl: str | None = None
    nn: str | None = None
    operator: str | None = None
    aliases: tuple = ()
    note: str = ""

    @property
    def qualname(self):
        """The name the registry knows it by: F-only ops are "nn.functional.<name>"."""
        if "mg" in self.expose or "Tensor" in self.expose or "F" not in self.expose:
            return self.name
        return "nn.functional." + self.name

    @property
    def nn_name(self):
        return self.nn.rsplit(".", 1)[-1] if self.nn else None

    def specs(self):
        """One OpSpec per case."""
        out = []
        for i, case in enumerate(self.cases):
            second = case.second_order if case.second_order is not None else i == 0
            out.append(OpSpec(
                name=case.name or self.qualname, fn=self._fn(case),
                sample=as_float64(case.sample), shape_cases=case.shapes,
                reference=case.reference, torch_fn=self._torch_fn(case),
                differentiable=self.order > 0, noncontiguous=case.noncontiguous,
                covers=(self.name,), avoid=case.avoid, entry=self.name,
                second_order=bool(second and self.order >= 2),
            ))
        return out

    def _fn(self, case):
        if case.fn is not DERIVED:
            return case.fn
        path, args, kwargs = self.impl, case.args, case.kwargs
        impl = []

        def fn(*tensors):
            if not impl:
                impl.append(resolve(path))
            return impl[0](*tensors, *args, **kwargs)

        return fn

    def _torch_fn(self, case):
        if case.torch_fn is not DERIVED:
            return case.torch_fn
        if self.torch is None:
            return None
        path, args, kwargs = self.torch, case.args, case.kwargs

        def torch_fn(*tensors):
            # Resolved at call time: a name missing from the installed torch fails this op's
            # oracle test only, never the collection of the others.
            return resolve(path)(*tensors, *args, **kwargs)

        return torch_fn

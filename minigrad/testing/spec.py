"""`OpSpec`: one row of the op registry, derived from a catalogue `Case` (catalogue/entry.py).

Samplers take a numpy Generator, not hypothesis, so `minigrad gradcheck` runs without the
test extras; the property tests drive them with hypothesis-drawn seeds and shape choices.
"""

from dataclasses import dataclass, field
from typing import Callable, Optional


@dataclass(frozen=True)
class OpSpec:
    """How to exercise one public op.

    name:       the public name, e.g. "add", "matmul", "nn.functional.conv2d".
    fn:         callable(*tensors) -> Tensor (fixed non-tensor arguments baked in).
    sample:     callable(rng, shapes) -> tuple of float64 numpy arrays (the inputs), where
                `shapes` is one element of `shape_cases(rng)`; samples stay away from kinks.
    shape_cases:callable(rng) -> list of shape descriptions to try (broadcast pairs, size-1
                dims, ...); each is passed to `sample`.
    reference:  numpy forward on the same arrays (None when there is no closed form).
    torch_fn:   the same op in PyTorch on torch tensors (None if not comparable).
    differentiable: False for ops without gradients (comparisons, argmax...).
    noncontiguous: whether fn should also be tried on transposed / step-sliced inputs.
    covers:     public API names this spec accounts for (for the completeness test).
    avoid:      a note on the kinks the sampler avoids (relu at 0, ties in max...).
    entry:      the catalogue entry (public op) this spec exercises.
    second_order: whether the gradgradcheck property test runs this spec.
    """

    name: str
    fn: Callable
    sample: Callable
    shape_cases: Callable
    reference: Optional[Callable] = None
    torch_fn: Optional[Callable] = None
    differentiable: bool = True
    noncontiguous: bool = True
    covers: tuple = field(default_factory=tuple)
    avoid: str = ""
    entry: str = ""
    second_order: bool = False

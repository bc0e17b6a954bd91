"""The graph has no reference cycles: with the cyclic GC off, dropping the output frees every
node and intermediate tensor at once, and training loops don't grow memory."""

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad.ops import conv2d, max_pool2d


@pytest.fixture
def no_gc():
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def test_dropping_the_output_frees_intermediates_and_nodes(no_gc):
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 3)), requires_grad=True)
    h = (x @ x).tanh()  # TanhBackward saves its output (held weakly)
    k = h.exp() * h  # MulBackward saves h
    tensor_ref, node_ref, k_node_ref = weakref.ref(h), weakref.ref(h.grad_fn), weakref.ref(k.grad_fn)
    out = (k * k).sum()
    del h, k
    assert tensor_ref() is not None  # still needed by out's graph
    del out
    assert tensor_ref() is None
    assert node_ref() is None
    assert k_node_ref() is None


def test_graph_freed_after_backward_and_after_mg_grad(no_gc):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    h = x.sigmoid()
    refs = [weakref.ref(h), weakref.ref(h.grad_fn)]
    out = (h * h).sum()
    del h
    out.backward()
    del out
    assert all(r() is None for r in refs)

    h = x.sigmoid()
    refs = [weakref.ref(h), weakref.ref(h.grad_fn)]
    out = (h * x).sum()
    del h
    mg.grad(out, x, retain_graph=True)
    del out
    assert all(r() is None for r in refs)


def test_custom_function_saving_output_has_no_cycle(no_gc):
    class Exp(mg.Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, gy):
            (y,) = ctx.saved_tensors
            return gy * y

    x = mg.tensor([0.5, 1.0], requires_grad=True)
    y = Exp.apply(x)
    refs = [weakref.ref(y), weakref.ref(y.grad_fn), weakref.ref(y.grad_fn.ctx)]
    out = y.sum()
    del y
    out.backward(retain_graph=True)
    del out
    assert all(r() is None for r in refs)


def test_view_and_in_place_leave_no_cycle(no_gc):
    a = mg.tensor(np.ones((2, 3)), requires_grad=True)
    x = a * 2
    v = x[0]
    v *= 3  # rebases x's history
    refs = [weakref.ref(x), weakref.ref(v), weakref.ref(x.grad_fn), weakref.ref(v.grad_fn)]
    out = (x * v).sum()
    del x, v
    out.backward()
    del out
    assert all(r() is None for r in refs)


def _growth(step, warmup=100, total=1000):
    """(tracked objects, traced bytes) after `total` iterations minus after `warmup`, with the
    cyclic GC disabled throughout.

    Objects are counted *before* anything is collected, so graph pieces kept alive only by
    reference cycles show up as growth. Then gc.collect() runs only to empty CPython's free
    lists (tuples, floats, ...), which otherwise fill up to their caps and look like a leak
    in the byte count; it cannot hide cycles made after the first measurement."""

    def measure():
        objects = len(gc.get_objects())
        gc.collect()
        gc.disable()
        return objects, tracemalloc.get_traced_memory()[0]

    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        for i in range(total):
            step()
            if i + 1 == warmup:
                objects0, bytes0 = measure()
        objects1, bytes1 = measure()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    return objects1 - objects0, bytes1 - bytes0


def _assert_bounded(step, warmup, total):
    objects, nbytes = _growth(step, warmup, total)
    n = total - warmup
    assert objects < 50, f"{objects} more GC-tracked objects after {n} more iterations (cycles?)"
    assert nbytes < 64 * 1024, f"memory grew by {nbytes} bytes over {n} iterations"


def test_mlp_training_loop_does_not_grow_memory():
    rng = np.random.default_rng(0)
    w1 = mg.tensor(rng.standard_normal((8, 16)) * 0.3, dtype=mg.float32, requires_grad=True)
    b1 = mg.zeros(16, requires_grad=True)
    w2 = mg.tensor(rng.standard_normal((16, 1)) * 0.3, dtype=mg.float32, requires_grad=True)
    data = mg.tensor(rng.standard_normal((32, 8)), dtype=mg.float32)
    target = mg.tensor(rng.standard_normal((32, 1)), dtype=mg.float32)
    params = (w1, b1, w2)

    def step():
        hidden = (data @ w1 + b1).relu()
        loss = ((hidden @ w2 - target) ** 2).mean()
        loss.backward()
        with mg.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad = None

    _assert_bounded(step, 100, 1000)


def test_conv_net_training_loop_does_not_grow_memory():
    rng = np.random.default_rng(1)
    w = mg.tensor(rng.standard_normal((4, 1, 3, 3)) * 0.3, dtype=mg.float32, requires_grad=True)
    b = mg.zeros(4, requires_grad=True)
    head = mg.tensor(rng.standard_normal((4 * 3 * 3, 2)) * 0.3, dtype=mg.float32, requires_grad=True)
    images = mg.tensor(rng.standard_normal((4, 1, 6, 6)), dtype=mg.float32)

    def step():
        y = max_pool2d(conv2d(images, w, b, padding=1).relu(), 2)
        loss = (y.reshape(4, -1) @ head).logsumexp(dim=1).mean()
        loss.backward()
        with mg.no_grad():
            for p in (w, b, head):
                p.sub_(0.001 * p.grad)
                p.grad = None

    _assert_bounded(step, 100, 600)


def test_leaks_are_detected():
    # The measurement itself must be able to fail: a step that keeps every loss alive, and
    # one that makes a reference cycle per iteration.
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    kept = []

    def keep():
        kept.append((x * x).sum())

    objects, nbytes = _growth(keep, warmup=50, total=500)
    assert objects > 400 and nbytes > 64 * 1024

    def cycle():
        y = (x * x).sum()
        y.grad_fn.ctx.cycle = y  # node -> ctx -> output -> node

    objects, _ = _growth(cycle, warmup=50, total=500)
    assert objects > 400

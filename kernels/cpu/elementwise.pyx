"""Fused, threaded elementwise kernels for large float tensors (Cython, OpenMP).

numpy runs `np.maximum(x, 0)` on one core, and ReLU's backward `gy * (y > 0)` as three passes
(compare, cast, multiply) with two temporaries. Here each is one pass over flat, C-contiguous
float32/float64 arrays, split into equal static chunks over the threads (serial below
MG_SERIAL_BELOW elements, see threads.h). minigrad/backend/cpu.py checks dtypes, shapes and
contiguity and falls back to the numpy reference for anything else; the wrappers here only
check the lengths, with the GIL held.

Results are those of the reference (backend/reference.py relu / relu_backward) bit for bit:
relu keeps NaN and maps -0.0 to +0.0 (as np.maximum(x, 0)); relu_backward is gy * 1 where
y > 0 and gy * 0 elsewhere (so an infinite or NaN gy gives NaN there, as the product does).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange

include "threads.pxi"
include "checks.pxi"


def _check_lengths(str op, Py_ssize_t a, Py_ssize_t b, Py_ssize_t c=-1):
    if a != b or (c >= 0 and c != a):
        lengths = [a, b] + ([c] if c >= 0 else [])
        raise ValueError(f"{op}: flat arrays of different lengths {tuple(lengths)}")


def _relu_forward(const floating[::1] x, floating[::1] out):
    """out[i] = x[i] if not x[i] <= 0 else 0 (NaN stays NaN, -0.0 becomes +0.0)."""
    cdef Py_ssize_t n = x.shape[0], i
    _check_lengths("relu_forward", n, out.shape[0])
    cdef floating v
    cdef int threads = mg_threads_for(n)
    with nogil, parallel(num_threads=threads):
        mg_note_team()  # prange splits by the team granted; this records it
        for i in prange(n, schedule="static"):
            v = x[i]
            out[i] = 0 if v <= 0 else v


def _relu_backward(const floating[::1] y, const floating[::1] gy, floating[::1] out):
    """out[i] = gy[i] * (1 if y[i] > 0 else 0): ReLU's input gradient from its output y."""
    cdef Py_ssize_t n = y.shape[0], i
    _check_lengths("relu_backward", n, gy.shape[0], out.shape[0])
    cdef int threads = mg_threads_for(n)
    with nogil, parallel(num_threads=threads):
        mg_note_team()
        for i in prange(n, schedule="static"):
            out[i] = gy[i] * (<floating>1 if y[i] > 0 else <floating>0)



# Checked entry points (the module is importable, so each public function validates its own
# arguments with the GIL held, issue 8 item 4): 1-D C-contiguous float32/float64 arrays of one
# dtype and one length; the output writeable and not sharing memory with an input, except the
# exact same array (an elementwise kernel may run in place).

def _elementwise_out(str op, out, **inputs):
    out = _arg_array(op, "out", out, 1, out=True)
    for name, a in inputs.items():
        _arg_array(op, name, a, 1)
    _same_dtype(op, out=out, **inputs)
    _check_lengths(op, *[a.shape[0] for a in inputs.values()], out.shape[0])
    partial = {name: a for name, a in inputs.items()
               if not (a.__array_interface__["data"][0] == out.__array_interface__["data"][0])}
    _no_overlap(op, "out", out, **partial)


def relu_forward(x, out):
    """out[i] = x[i] if not x[i] <= 0 else 0 (NaN stays NaN, -0.0 becomes +0.0)."""
    _elementwise_out("relu_forward", out, x=x)
    _relu_forward(x, out)


def relu_backward(y, gy, out):
    """out[i] = gy[i] * (1 if y[i] > 0 else 0): ReLU's input gradient from its output y."""
    _elementwise_out("relu_backward", out, y=y, gy=gy)
    _relu_backward(y, gy, out)

"""What `minigrad bench` runs: the implementation names, the CNN's layer shapes and the
run configurations (QUICK, FULL, BUSY for `--busy`'s child runs, and SMOKE for the tests)."""

from dataclasses import dataclass

MINIGRAD, REFERENCE, NUMPY_BEST, TORCH = "minigrad", "reference", "numpy best", "torch"
# Other Python autograd engines, optional peers of the tiny-op group (the `bench` extra).
MYGRAD, HIPS_AUTOGRAD = "mygrad", "autograd"
IMPL_ORDER = (MINIGRAD, REFERENCE, NUMPY_BEST, TORCH, MYGRAD, HIPS_AUTOGRAD)

# The CNN of the issue: Conv2d(1,32,3)-ReLU-MaxPool2d(2)-Conv2d(32,64,3)-ReLU-MaxPool2d(2)-
# Flatten-Linear(1600,128)-ReLU-Linear(128,10) on 28x28 images.
CONV_LAYERS = (("conv1", 1, 32, 28), ("conv2", 32, 64, 13))  # (name, C, O, H) with 3x3 kernels
POOL_LAYERS = (("pool1", 32, 26), ("pool2", 64, 11))  # (name, C, H), 2x2 windows, stride 2


@dataclass(frozen=True)
class Config:
    """What to run and how long to time it."""

    name: str
    gemm_sizes: tuple = (256, 512, 1024)
    cnn_gemm_batch: int = 128  # the CNN's GEMMs (recorded from a training step); 0: skip
    batches: tuple = (32, 128)  # conv, pool and training-step batch sizes
    warmup: int = 2
    min_repeats: int = 5
    max_repeats: int = 50
    min_time: float = 0.1  # seconds of timed calls per (workload, impl), at least
    train_min_time: float = 0.5
    tiny_chain: int = 50  # (mul, add) pairs in the tiny-op chain
    python_peers: bool = True  # MyGrad and HIPS autograd in the tiny-op group, when installed
    memory_batch: int = 128  # peak memory of a training step at this batch (children); 0: skip
    numpy_child: bool = True  # time "numpy best" in a child process
    train_reference: bool = True  # time the training step on the reference kernels (child)
    torch: bool = True  # include PyTorch when it imports
    progress: bool = True
    threads: int = 0  # 0: our GEMM's default (OMP_NUM_THREADS or all cores)
    rounds: int = 1  # interleaved rounds per measurement (repeats and time split over them)


QUICK = Config("quick", warmup=2, min_repeats=6, max_repeats=60, min_time=0.25,
               train_min_time=0.75, rounds=3)
FULL = Config("full", gemm_sizes=(256, 512, 1024, 2048), warmup=3, min_repeats=15,
              max_repeats=300, min_time=1.0, train_min_time=4.0, rounds=5)
# One child run of `minigrad bench --busy` (several alternate, each under its thread setting):
# every in-process workload, no child processes of its own.
BUSY = Config("busy", warmup=1, min_repeats=4, max_repeats=30, min_time=0.15,
              train_min_time=0.4, numpy_child=False, train_reference=False, memory_batch=0,
              progress=False, rounds=1)
# Smallest configuration that still goes through every code path (tests/test_bench.py).
SMOKE = Config("smoke", gemm_sizes=(32,), cnn_gemm_batch=2, batches=(2,), warmup=1,
               min_repeats=2, max_repeats=2, min_time=0.0, train_min_time=0.0, tiny_chain=3,
               train_reference=False, progress=False, rounds=2, memory_batch=2)

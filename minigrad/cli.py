"""`python -m minigrad` / `minigrad`: train, bench and gradcheck subcommands.

Thin on purpose: parse arguments, then call the library function that does the work.
Every error a user can cause ends in one line, `minigrad <cmd>: error: ...`, and a non-zero
exit code (2); Ctrl-C prints `minigrad <cmd>: interrupted` and exits with 130.
"""

import argparse
import math
import os
import sys

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is reported in one line (no usage block)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _device(spec: str) -> str:
    """--device: 'cpu', 'cuda' or 'cuda:N' (whether CUDA is usable is checked later)."""
    from .backend.device import Device

    try:
        return str(Device(spec))
    except (TypeError, ValueError) as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _positive_float(text: str) -> float:
    """--lr and other rates: a finite number > 0 (inf trains to NaN, 0 trains nothing)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _thread_count(text: str) -> int:
    """--threads: an int >= 1 (mg.set_num_threads's rule)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def output_path_problem(path: str) -> str | None:
    """Why a file cannot be written at `path`, or None: checked before a long run so that a
    typo fails at once, not after minutes of work."""
    full = os.path.abspath(path)
    folder = os.path.dirname(full)
    if os.path.isdir(full):
        return f"{path!r} is a folder"
    if not os.path.isdir(folder):
        return f"folder {folder!r} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder!r} is not writable"
    if os.path.exists(full) and not os.access(full, os.W_OK):
        return f"{path!r} is not writable"
    return None


def _train(args):
    from .training import train_main

    return train_main(args)


def _bench(args):
    from .bench import bench_main

    return bench_main(args)


def _gradcheck(args):
    from .testing.gradcheck_table import gradcheck_main

    return gradcheck_main(args)


def build_parser():
    from . import __version__

    parser = _Parser(prog="minigrad", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"minigrad {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser(
        "train", help="train a CNN or MLP on digits or MNIST",
        description="Train a small CNN or MLP; prints a progress bar and a test-accuracy line "
                    "per epoch, and last 'test accuracy: 0.9733' (a fraction) on stdout.",
        epilog="Checkpoints (--save): the minigrad checkpoint format of mg.save (a zip of "
               ".npy arrays and a JSON manifest, no pickle), holding {'model': state_dict, "
               "'optimizer': state_dict, 'scheduler': state_dict, 'rng': generator state, "
               "'epoch': epochs done, 'args': the options}; written after every epoch, "
               "atomically. Read it with mg.load(PATH), or continue the run with --resume PATH.")
    # Run settings default to None so that --resume can tell which ones were given; the real
    # defaults are filled in by training._resolve (and named in the help).
    train.add_argument("--model", choices=["cnn", "mlp"], default=None,
                       help="the network (default: cnn)")
    train.add_argument("--dataset", choices=["digits", "mnist"], default=None,
                       help="digits: the 8x8 digits shipped with minigrad; mnist: IDX files "
                            "in --data-dir (default: digits)")
    train.add_argument("--data-dir", default=None,
                       help="folder with the MNIST IDX files (only with --dataset mnist)")
    train.add_argument("--epochs", type=int, default=None,
                       help="epochs in all (default: 15 on digits, 2 (cnn) or 5 (mlp) on "
                            "mnist); with --resume, a new total")
    train.add_argument("--batch-size", type=int, default=None, help="default: 32")
    train.add_argument("--lr", type=_positive_float, default=None,
                       help="initial learning rate of the cosine schedule (default: 0.01 "
                            "adam / 0.05 sgd on digits, 0.001 / 0.01 on mnist)")
    train.add_argument("--optimizer", choices=["sgd", "adam"], default=None,
                       help="adam, or sgd with momentum 0.9 (default: adam)")
    train.add_argument("--device", type=_device, default="cpu", help="default: cpu")
    train.add_argument("--seed", type=int, default=None,
                       help="seeds the initial weights and the shuffling (default: 0)")
    train.add_argument("--save", default=None, metavar="PATH",
                       help="write a checkpoint here after every epoch (format below)")
    train.add_argument("--resume", default=None, metavar="PATH",
                       help="continue the run saved by --save PATH: same weights as an "
                            "uninterrupted run; its settings come from the checkpoint")
    train.add_argument("--threads", type=_thread_count, default=None, metavar="N",
                       help="threads per CPU kernel (mg.set_num_threads; default: "
                            "OMP_NUM_THREADS, else one per core)")
    train.set_defaults(func=_train)

    bench = sub.add_parser("bench", help="kernel and training-step benchmarks vs numpy/PyTorch")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    bench.add_argument("--json", default=None, metavar="PATH", help="write every figure as JSON")
    bench.add_argument("--plot", default=None, metavar="PATH", help="write a PNG bar chart")
    bench.add_argument("--busy", action="store_true",
                       help="with a competing process on one core: each workload's slowdown "
                            "with default threads vs OMP_NUM_THREADS=1")
    bench.add_argument("--device", type=_device, default="cpu",
                       help="cuda[:N]: our CUDA kernels vs cuBLAS/PyTorch CUDA (bench/gpu.py)")
    bench.set_defaults(func=_bench)

    check = sub.add_parser("gradcheck", help="finite-difference check of every registered op")
    check.add_argument("--device", type=_device, default="cpu",
                       help="cpu or cuda (tensors are moved with .to)")
    check.add_argument("--op", default=None, help="check only this op")
    check.add_argument("--fast", action="store_true",
                       help="random projections v^T J u first (a failing op is re-checked in full)")
    check.add_argument("--json", default=None, metavar="PATH",
                       help="write every op's findings (errors, failures, kinks) as JSON")
    check.add_argument("--verbose", action="store_true",
                       help="with --op: print analytical and numerical Jacobians side by side")
    check.add_argument("--seed", type=int, default=0)
    check.set_defaults(func=_gradcheck)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (argparse's exits included, for callers
    that run it in-process)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version or a bad argument, already printed
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        code = args.func(args)
    except KeyboardInterrupt:
        print(f"minigrad {args.command}: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    return 0 if code is None else int(code)


if __name__ == "__main__":
    sys.exit(main())

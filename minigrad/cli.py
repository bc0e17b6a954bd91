"""`python -m minigrad` / `minigrad`: train, bench and gradcheck subcommands.

Thin on purpose: parse arguments, then call the library function that does the work.
"""

import argparse
import sys


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
    parser = argparse.ArgumentParser(prog="minigrad", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a CNN or MLP on digits or MNIST")
    train.add_argument("--model", choices=["cnn", "mlp"], default="cnn")
    train.add_argument("--dataset", choices=["digits", "mnist"], default="digits")
    train.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files")
    train.add_argument("--epochs", type=int, default=None, help="default depends on the model")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=None, help="default depends on the optimizer")
    train.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    train.add_argument("--device", default="cpu")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--save", default=None, metavar="PATH", help="write a checkpoint here")
    train.set_defaults(func=_train)

    bench = sub.add_parser("bench", help="kernel and training-step benchmarks vs numpy/PyTorch")
    bench.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    bench.add_argument("--json", default=None, metavar="PATH", help="write every figure as JSON")
    bench.add_argument("--plot", default=None, metavar="PATH", help="write a PNG bar chart")
    bench.add_argument("--device", default="cpu",
                       help="cuda[:N]: our CUDA kernels vs cuBLAS/PyTorch CUDA (bench/gpu.py)")
    bench.set_defaults(func=_bench)

    check = sub.add_parser("gradcheck", help="finite-difference check of every registered op")
    check.add_argument("--device", default="cpu", help="cpu or cuda (tensors are moved with .to)")
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
    args = build_parser().parse_args(argv)
    code = args.func(args)
    return 0 if code is None else int(code)


if __name__ == "__main__":
    sys.exit(main())

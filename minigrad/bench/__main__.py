"""`python -m minigrad.bench --child`: run one task (a JSON dict on stdin) in a child process
and print its JSON answer; the parent side is child._run_child."""

import json
import sys

from .busy import _child_bench
from .gemm import _child_numpy_gemm
from .memory import _child_memory
from .train import _child_train


def _child_main():
    task = json.loads(sys.stdin.read())
    handler = {"numpy_gemm": _child_numpy_gemm, "train": _child_train, "memory": _child_memory,
               "bench": _child_bench}[task["task"]]
    print(json.dumps(handler(task)))


if __name__ == "__main__":
    if sys.argv[1:] == ["--child"]:
        _child_main()
    else:
        sys.exit("usage: python -m minigrad bench [--quick] [--json PATH] [--plot PATH]")

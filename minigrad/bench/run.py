"""The run: every workload of a configuration in order, with a progress bar, collected into
one report dict."""

import sys
import time
from dataclasses import asdict

from .config import CONV_LAYERS, IMPL_ORDER, POOL_LAYERS
from .conv import _conv_results, _pool_results
from .gemm import _gemm_results, record_cnn_gemms, square_spec
from .machine import _import_torch, _loadavg, _ThreadLimits, bench_threads, machine_info
from .memory import _memory_results, memory_target
from .results import compute_ratios, evaluate_targets
from .tiny import _tiny_results
from .train import _train_results


class _Progress:
    """tqdm over the (workload, impl) measurements, or nothing.

    Steps may be fractions (one round of several); they are summed here and the bar moves by
    whole units, never past `total` (float sums such as 3 x 2/3 = 2.0000000000000004 made
    tqdm warn "clamping frac" and show a remaining time of "-00:00"). `finish()` fills the
    bar when the run completed.
    """

    def __init__(self, total, enabled):
        self.bar = None
        self.total = int(total)
        self.done = 0.0
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=self.total, desc="minigrad bench", file=sys.stderr,
                            mininterval=0.5, dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {elapsed}<{remaining} {postfix}")

    def set(self, text):
        if self.bar is not None:
            self.bar.set_postfix_str(text[:60], refresh=True)

    def step(self, n=1):
        self.done += n
        self._show(min(int(round(self.done, 6)), self.total))

    def _show(self, units):
        if self.bar is not None and units > self.bar.n:
            self.bar.update(units - self.bar.n)

    def finish(self):
        self.done = self.total
        self._show(self.total)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _count_cases(cfg, torch, n_cnn_gemms):
    peers = 3 if torch is not None else 2  # minigrad, reference (, torch) in-process
    n_gemm = len(cfg.gemm_sizes) + n_cnn_gemms
    total = n_gemm * peers + (n_gemm if cfg.numpy_child else 0)
    total += len(cfg.batches) * len(CONV_LAYERS) * 2 * peers
    total += len(cfg.batches) * len(POOL_LAYERS) * peers
    total += len(cfg.batches) * (peers - 1) + (len(cfg.batches) if cfg.train_reference else 0)
    total += peers - 1 + (2 if cfg.python_peers else 0)  # tiny ops
    total += (peers - 1) if cfg.memory_batch else 0  # memory children
    return total


def run_benchmarks(cfg):
    """Run every workload of cfg; a report dict {machine, config, results, targets, ...}."""
    torch = _import_torch(cfg)
    threads = bench_threads(cfg)
    torch_threads = None if torch is None else torch.get_num_threads()
    if torch is not None:
        torch.set_num_threads(threads)
    t_start = time.perf_counter()
    limits = _ThreadLimits(cfg.threads).__enter__()
    machine = machine_info(threads, torch)
    square = [(f"{n}x{n}x{n}", "matmul", square_spec(n)) for n in cfg.gemm_sizes]
    cnn = ([(f"N={cfg.cnn_gemm_batch} {label}", via, spec)
            for label, via, spec in record_cnn_gemms(cfg.cnn_gemm_batch)]
           if cfg.cnn_gemm_batch else [])
    machine["cnn_gemms"] = [{"workload": label, "via": via, **spec} for label, via, spec in cnn]
    progress = _Progress(_count_cases(cfg, torch, len(cnn)), cfg.progress)
    try:
        results, child_info = _gemm_results(cfg, [("gemm", square), ("cnn-gemm", cnn)],
                                            threads, torch, progress)
        if cfg.numpy_child:
            machine["numpy_best_child"] = child_info
        results += _conv_results(cfg, threads, torch, progress)
        results += _pool_results(cfg, torch, progress)
        train, how = _train_results(cfg, threads, torch, progress)
        results += train
        machine["train_step_impl"] = how
        results += _tiny_results(cfg, torch, progress)
        memory = _memory_results(cfg, threads, torch, progress)
        progress.finish()
    finally:
        progress.close()
        limits.__exit__(None, None, None)
        if torch is not None:
            torch.set_num_threads(torch_threads)
    machine["loadavg_end"] = _loadavg()
    order = {impl: i for i, impl in enumerate(IMPL_ORDER)}
    groups = ["gemm", "cnn-gemm", "conv", "pool", "train", "tiny"]
    workloads = {}
    for r in results:
        workloads.setdefault((r.group, r.workload), len(workloads))
    results.sort(key=lambda r: (groups.index(r.group), workloads[(r.group, r.workload)],
                                order[r.impl]))
    compute_ratios(results)
    targets = evaluate_targets(results)
    if memory:
        targets.append(memory_target(memory))
    return {"machine": machine, "config": asdict(cfg), "results": results, "memory": memory,
            "targets": targets, "runtime_s": time.perf_counter() - t_start}

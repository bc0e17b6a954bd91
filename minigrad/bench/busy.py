"""`minigrad bench --busy`: the benchmark on a machine with one core taken by another process.

A competing process (a Python busy loop pinned to one CPU) runs for the whole measurement.
Meanwhile the benchmark's in-process workloads (config BUSY) run in child processes that
alternate between two thread settings, `rounds` times each:

    default    the environment as it is, without OMP_NUM_THREADS / OPENBLAS_NUM_THREADS /
               MKL_NUM_THREADS (every library picks its own thread count)
    1 thread   OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1, MKL_NUM_THREADS=1

Each workload's figure is the median over the rounds of each child's median; the slowdown is
default / 1 thread (above 1: the default threads lose to a single thread). Issue 12's target:
no minigrad workload more than 1.5x slower with the defaults.
"""

import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, replace

from .child import _child_env, _run_child
from .config import BUSY, IMPL_ORDER, MINIGRAD

SLOWDOWN_TARGET = 1.5
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
DEFAULT, ONE_THREAD = "default", "1 thread"

_BUSY_LOOP = """
import os, sys
cpu = int(sys.argv[1])
try:
    os.sched_setaffinity(0, {cpu})
except (AttributeError, OSError):
    pass
while True:
    pass
"""


class Competitor:
    """A busy-loop child process pinned to one CPU while the `with` block runs."""

    def __init__(self, cpu=None):
        if cpu is None:
            cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
            cpu = cpus[-1]
        self.cpu, self.proc = cpu, None

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", _BUSY_LOOP, str(self.cpu)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return False


def _variant_env(variant):
    env = _child_env(quiet_openblas=True)  # OpenBLAS's idle threads sleep at once, as in the bench
    for k in THREAD_VARS:
        env.pop(k, None)
    if variant == ONE_THREAD:
        env.update({k: "1" for k in THREAD_VARS})
    return env


def run_busy(cfg=BUSY, rounds=2, progress=None):
    """The busy report: {config, rounds, competitor_cpu, threads, rows, target, runtime_s}."""
    t0 = time.perf_counter()
    cfg = replace(cfg, progress=False)
    samples = {}  # (group, workload, impl) -> {variant: [median per child run]}
    threads = {}
    with Competitor() as competitor:
        for rnd in range(rounds):
            for variant in (DEFAULT, ONE_THREAD):
                if progress is not None:
                    progress(f"round {rnd + 1}/{rounds}: {variant} (child process)")
                answer = _run_child({"task": "bench", "config": asdict(cfg)},
                                    _variant_env(variant), timeout=3600)
                threads[variant] = answer["machine"]["threads"]
                for r in answer["results"]:
                    if r["timing"] is None:
                        continue
                    key = (r["group"], r["workload"], r["impl"])
                    samples.setdefault(key, {}).setdefault(variant, []).append(
                        r["timing"]["median"])
    rows = []
    for (group, workload, impl), by_variant in samples.items():
        if DEFAULT not in by_variant or ONE_THREAD not in by_variant:
            continue
        d = statistics.median(by_variant[DEFAULT])
        o = statistics.median(by_variant[ONE_THREAD])
        rows.append({"group": group, "workload": workload, "impl": impl, "default_s": d,
                     "one_thread_s": o, "slowdown": d / o})
    order = {impl: i for i, impl in enumerate(IMPL_ORDER)}
    rows.sort(key=lambda r: order.get(r["impl"], len(order)))  # stable: workloads keep order
    firsts = {}
    for i, r in enumerate(rows):
        firsts.setdefault((r["group"], r["workload"]), i)
    rows.sort(key=lambda r: firsts[(r["group"], r["workload"])])
    return {"config": asdict(cfg), "rounds": rounds, "competitor_cpu": competitor.cpu,
            "cpu_count": os.cpu_count(), "threads": threads, "rows": rows,
            "target": busy_target(rows), "loadavg": _loadavg(),
            "runtime_s": time.perf_counter() - t0}


def busy_target(rows):
    ours = [r for r in rows if r["impl"] == MINIGRAD]
    entry = {"target": f"busy machine: minigrad default threads vs 1 thread "
                       f"(<= {SLOWDOWN_TARGET}x slower)",
             "worst_slowdown": None, "worst_workload": None, "status": "not measured"}
    if ours:
        worst = max(ours, key=lambda r: r["slowdown"])
        entry.update(worst_slowdown=worst["slowdown"],
                     worst_workload=f"{worst['group']}: {worst['workload']}",
                     status="met" if worst["slowdown"] <= SLOWDOWN_TARGET else "MISSED")
    return entry


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:
        return None


def format_busy(report):
    from .report import GROUP_TITLES, _fmt_time

    lines = [
        f"minigrad bench --busy: a competing process spins on CPU {report['competitor_cpu']} "
        f"of {report['cpu_count']}; workloads timed in child processes alternating "
        f"{DEFAULT} threads ({report['threads'].get(DEFAULT)}) and OMP_NUM_THREADS=1, "
        f"{report['rounds']} rounds each, medians of the per-run medians",
        f"load avg at the end {'/'.join(f'{x:.2f}' for x in report['loadavg'] or [])}",
    ]
    header = f"  {'workload':44s} {'impl':10s} {'default':>10s} {'1 thread':>10s} " \
             f"{'slowdown':>9s}"
    current = last = None
    for r in report["rows"]:
        if r["group"] != current:
            current = r["group"]
            lines += ["", GROUP_TITLES.get(current, current), header]
            last = None
        name = r["workload"] if r["workload"] != last else ""
        last = r["workload"]
        flag = "  <-- over" if r["impl"] == MINIGRAD and r["slowdown"] > SLOWDOWN_TARGET else ""
        lines.append(f"  {name[:44]:44s} {r['impl']:10s} {_fmt_time(r['default_s']):>10s} "
                     f"{_fmt_time(r['one_thread_s']):>10s} {r['slowdown']:8.2f}x{flag}")
    t = report["target"]
    worst = "-" if t["worst_slowdown"] is None else f"{t['worst_slowdown']:.2f}x"
    lines += ["", "Target:", f"  {t['target']:60s} {worst:>7s}  {t['status']}"
              + (f"  [{t['worst_workload']}]" if t["worst_workload"] else ""),
              f"\nruntime {report['runtime_s']:.1f} s"]
    return "\n".join(lines)


def _child_bench(task):
    """In a child: one full run of the given config; its JSON report."""
    from .config import Config
    from .report import report_to_json
    from .run import run_benchmarks

    return report_to_json(run_benchmarks(Config(**task["config"])))

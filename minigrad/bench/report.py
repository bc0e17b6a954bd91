"""Reporting: the printed table, the JSON document and the PNG bar chart of a report."""

from .config import IMPL_ORDER
from .machine import _has_threadpoolctl


def _fmt_time(s):
    if s is None:
        return "-"
    if s < 1e-3:
        return f"{s * 1e6:.1f} us"
    if s < 1:
        return f"{s * 1e3:.2f} ms"
    return f"{s:.3f} s"


GROUP_TITLES = {
    "gemm": "float32 GEMM, square (M x N x K)",
    "cnn-gemm": "float32 GEMM, the CNN's GEMMs as one training step calls them (M x N x K)",
    "conv": "conv2d (kernel level: forward = y; fwd+bwd = y, dx, dW, db); GFLOP/s counts 3x fwd",
    "pool": "max_pool2d 2x2 stride 2, forward + backward",
    "train": "training step (forward, cross-entropy, backward, Adam), images/s",
    "tiny": "per-op overhead with autograd, microseconds per op (lower is better)",
}


def busy_warning(machine):
    """The warning printed (and drawn on the plot) when the machine was busy, or None."""
    load = machine.get("loadavg_start") or [0.0]
    if load[0] <= 0.5 * (machine["cpu_count"] or 1):
        return None
    return (f"WARNING: the machine was busy (1-min load {load[0]:.2f} on "
            f"{machine['cpu_count']} cores at the start): a thread descheduled in a "
            "parallel region stalls it for milliseconds, so multi-threaded timings "
            "are unreliable. Rerun when it is quiet (or with OMP_NUM_THREADS=1).")


def plot_title(report):
    """The plot's title: configuration, CPU and thread count."""
    m = report["machine"]
    threads = m["threads"]
    return (f"minigrad bench ({report['config']['name']}): {m['cpu_model']}, "
            f"{threads} thread{'' if threads == 1 else 's'}")


def format_report(report):
    """The printed table: machine line, one block per group, then the targets."""
    m = report["machine"]
    lines = [
        f"minigrad bench ({report['config']['name']}) - {m['date']}",
        f"CPU {m['cpu_model']} ({m['cpu_count']} cores), {m['threads']} thread(s) for every "
        f"library; numpy {m['numpy']}, torch {m['torch'] or 'not installed'}; "
        f"our GEMM ISA {m['gemm_isa']}; load avg {_fmt_load(m.get('loadavg_start'))}",
        f"OpenBLAS (threadpoolctl): this process {_fmt_blas(m['blas_this_process'])}; "
        f"numpy best child {_fmt_blas(m.get('numpy_best_child', {}).get('blas'))}"
        + (f"; env here sets {m['openblas_env']}" if m["openblas_env"] else ""),
    ]
    busy = busy_warning(m)
    if busy:
        lines.append(busy)
    if m.get("numpy_best_child", {}).get("error"):
        lines.append(f"numpy best child FAILED: {m['numpy_best_child']['error']}")
    sources = sorted(set(m["kernel_sources"].values()))
    lines.append(f"kernel sources: {', '.join(sources)}; training step: {m.get('train_step_impl')}")
    header = f"  {'workload':44s} {'impl':10s} {'median':>10s} {'spread':>7s} {'rate':>10s} " \
             f"{'unit':7s} {'x fastest':>9s}"
    current = None
    for r in report["results"]:
        if r.group != current:
            current = r.group
            lines += ["", GROUP_TITLES[r.group], header]
            last = None
        name = r.workload if r.workload != last else ""
        last = r.workload
        if r.timing is None:
            lines.append(f"  {name:44s} {r.impl:10s} {'-':>10s}  {r.note}")
            continue
        rate = r.rate
        rate_s = "-" if rate is None else (f"{rate:10.1f}" if rate >= 10 else f"{rate:10.2f}")
        lines.append(f"  {name[:44]:44s} {r.impl:10s} {_fmt_time(r.timing.median):>10s} "
                     f"{'+-' + format(100 * r.timing.spread, '.0f') + '%':>7s} {rate_s:>10s} "
                     f"{r.unit:7s} {r.ratio:9.2f}")
    lines += _format_memory(report.get("memory"))
    lines += ["", "Targets (speed of minigrad / peer; the worst workload when several match):"]
    for t in report["targets"]:
        ratio = "-" if t["ratio"] is None else f"{t['ratio']:.2f}"
        goal = (f">= {t['minimum']}" if t["minimum"] is not None else "") + \
               (f" (aim {t['aim']})" if t["aim"] is not None else "")
        worst = f"  [{t['worst_workload']}]" if t["worst_workload"] else ""
        lines.append(f"  {t['target']:52s} {ratio:>6s} {goal:18s} {t['status']}{worst}")
    lines.append(f"\nruntime {report['runtime_s']:.1f} s")
    return "\n".join(lines)


def _format_memory(memory):
    """The memory block: process peak and the step's share, per impl (MiB)."""
    if not memory:
        return []
    lines = ["", f"peak resident memory of a training step, N={memory['batch']} "
                 f"({memory['steps']} steps, each impl in its own child process; step = peak "
                 "minus the RSS before the first step)",
             f"  {'impl':10s} {'process peak':>13s} {'step':>10s}"]
    for impl in IMPL_ORDER:
        m = memory.get(impl)
        if m is None:
            continue
        if "error" in m:
            lines.append(f"  {impl:10s} failed: {m['error']}")
            continue
        lines.append(f"  {impl:10s} {m['peak_kib'] / 1024:9.1f} MiB {m['step_kib'] / 1024:6.1f} MiB")
    return lines


def _fmt_load(load):
    return "-" if not load else "/".join(f"{x:.2f}" for x in load)


def _fmt_blas(blas):
    if not blas:
        return "n/a (threadpoolctl not installed)" if not _has_threadpoolctl() else "-"
    b = blas[0]
    return f"{b.get('internal_api')} {b.get('version')} kernel {b.get('architecture')}, " \
           f"{b.get('num_threads')} threads"


def report_to_json(report):
    return {"machine": report["machine"], "config": report["config"],
            "results": [r.to_dict() for r in report["results"]],
            "memory": report.get("memory") or {},
            "targets": report["targets"], "runtime_s": report["runtime_s"]}


def write_plot(report, path):
    """A horizontal bar chart: each impl's speed relative to the fastest, per workload."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = []
    for r in report["results"]:
        key = (r.group, r.workload)
        if key not in workloads:
            workloads.append(key)
    impls = [i for i in IMPL_ORDER if any(r.impl == i for r in report["results"])]
    height = 0.8 / max(len(impls), 1)
    fig, ax = plt.subplots(figsize=(10, 0.32 * len(workloads) * max(len(impls), 2) / 2 + 1.5))
    for j, impl in enumerate(impls):
        ys, xs = [], []
        for i, key in enumerate(workloads):
            r = next((r for r in report["results"]
                      if (r.group, r.workload) == key and r.impl == impl and r.timing), None)
            if r is not None:
                ys.append(i + (j - (len(impls) - 1) / 2) * height)
                xs.append(r.ratio)
        ax.barh(ys, xs, height=height, label=impl)
    ax.set_yticks(range(len(workloads)))
    ax.set_yticklabels([f"{g}: {w}" for g, w in workloads], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("speed relative to the fastest implementation (1 = fastest)")
    ax.set_xlim(0, 1.05)
    ax.set_title(plot_title(report), fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    busy = busy_warning(report["machine"])
    if busy:  # on the picture too: a PNG travels without the text report
        import textwrap

        fig.tight_layout(rect=(0, 0.07, 1, 1))
        fig.text(0.01, 0.01, textwrap.fill(busy, 150), fontsize=7, color="red",
                 va="bottom", ha="left")
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

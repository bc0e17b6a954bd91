"""Peak resident memory of a training step (the CNN, batch cfg.memory_batch), minigrad and
PyTorch, each measured in a child process of its own so that neither library's imports,
allocator caches or freed-but-kept pages count for the other.

The child builds the network, optimizer and batch, reads its resident set size (RSS), runs
a few full training steps and reads its peak RSS (VmHWM; see `_rss_kib`). Two figures come back:
the process peak (interpreter, library and data included) and the step's own share, the
peak minus the RSS just before the first step (activations, gradients, Adam state,
temporaries). The target compares the step's share.
"""

from .child import _child_env, _run_child, _threads_env
from .config import MINIGRAD, TORCH

STEPS = 3
# Issue 12: minigrad's training step at most 1.2x PyTorch's peak memory.
MEMORY_TARGET = 1.2


def _memory_results(cfg, threads, torch, progress):
    """{"batch", "steps", impl: {peak_kib, before_kib, step_kib} or {error}}; {} if skipped."""
    if not cfg.memory_batch:
        return {}
    impls = [MINIGRAD] + ([TORCH] if torch is not None else [])
    out = {"batch": cfg.memory_batch, "steps": STEPS}
    env = _child_env(extra=_threads_env(threads))
    for impl in impls:
        progress.set(f"peak memory of a training step, {impl} (child process)")
        task = {"task": "memory", "impl": impl, "batch": cfg.memory_batch, "steps": STEPS,
                "threads": threads}
        try:
            out[impl] = _run_child(task, env, timeout=900)
        except Exception as exc:  # noqa: BLE001  (reported in the table, not fatal)
            out[impl] = {"error": str(exc)}
        progress.step(1)
    return out


def memory_target(memory):
    """The target entry: ratio = PyTorch's step memory / minigrad's (>= 1/1.2 is met)."""
    entry = {"target": f"training-step memory N={memory.get('batch')} vs PyTorch "
                       f"(<= {MEMORY_TARGET}x its peak)",
             "peer": TORCH, "minimum": round(1 / MEMORY_TARGET, 2), "aim": None,
             "ratio": None, "worst_workload": None, "status": "not measured"}
    ours, theirs = memory.get(MINIGRAD, {}), memory.get(TORCH, {})
    if ours.get("step_kib") and theirs.get("step_kib"):
        ratio = theirs["step_kib"] / ours["step_kib"]
        entry.update(ratio=ratio, worst_workload="peak RSS of the step",
                     status="met" if ratio >= 1 / MEMORY_TARGET else "MISSED")
    return entry


def _rss_kib():
    """(current RSS, peak RSS) of this process in KiB.

    Linux: VmRSS and VmHWM of /proc/self/status. Not `ru_maxrss`: Linux carries a process's
    high-water mark over fork + exec, so a child started by a large parent would report the
    parent's peak. Elsewhere: ru_maxrss for both (bytes on macOS, KiB on Linux/BSD).
    """
    try:
        fields = {}
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        return fields["VmRSS"], fields["VmHWM"]
    except (OSError, KeyError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = peak // 1024 if sys.platform == "darwin" else peak
        return peak, peak


def _child_memory(task):
    """In the child: build one impl's training step, run it, report RSS figures (KiB)."""
    from .train import minigrad_train_step, torch_train_step

    batch, steps = task["batch"], task["steps"]
    if task["impl"] == TORCH:
        import torch

        torch.set_num_threads(task["threads"])
        step = torch_train_step(torch, batch)
    else:
        step, _ = minigrad_train_step(batch)
    before, _ = _rss_kib()
    for _ in range(steps):
        step()
    _, peak = _rss_kib()
    return {"peak_kib": peak, "before_kib": before, "step_kib": max(peak - before, 0)}

"""`minigrad gradcheck`: finite-difference check of every registered op, printed as a table.

For each differentiable spec in the registry, a few of its shape cases are sampled (float64,
away from kinks) and checked with `mg.gradcheck_report` (full Jacobian, or `--fast` random
projections); one row per op gives the shapes tried, the worst absolute and relative errors
and PASS/FAIL, and failing ops get the full message. Registered ops without gradient samples
(not differentiable) are listed at the end. `--json PATH` writes every op's findings;
`--op NAME --verbose` prints the analytical and numerical Jacobians of one small case side
by side. Tensors are moved with `.to(device)`, so any device minigrad knows works.
"""

import contextlib
import difflib
import json
import math
import sys
import time

import numpy as np

CASES_PER_OP = 3


def _single_threaded():
    # Thousands of tiny kernels: OpenMP hand-offs would dominate on a busy machine.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(1)


def _fmt_shapes(inputs):
    """Input shapes of one case, e.g. "(3,4)x(4,)"."""
    return "x".join(str(tuple(x.shape)).replace(" ", "") for x in inputs)


def _inputs(spec, case, rng, device):
    import minigrad as mg

    return tuple(mg.tensor(np.asarray(a), dtype=mg.float64).to(device).requires_grad_()
                 for a in spec.sample(rng, case))


def _check_spec(spec, device, seed, fast):
    from minigrad.gradcheck import gradcheck_report

    rng = np.random.default_rng(seed)
    cases = spec.shape_cases(rng)[:CASES_PER_OP]
    row = {"op": spec.name, "differentiable": True, "shapes": [], "max_abs_err": 0.0,
           "max_rel_err": 0.0, "passed": True, "messages": [], "kinks": 0, "failures": []}
    for case in cases:
        try:
            inputs = _inputs(spec, case, rng, device)
            row["shapes"].append(_fmt_shapes(inputs))
            report = gradcheck_report(spec.fn, inputs, seed=seed, name=spec.name, fast_mode=fast)
        except Exception as exc:  # an op that raises is a failure to report, not a crash
            row.update(passed=False, max_abs_err=math.nan, max_rel_err=math.nan)
            row["messages"].append(f"{spec.name} {case}: {type(exc).__name__}: {exc}")
            continue
        row["max_abs_err"] = max(row["max_abs_err"], report.max_abs_err)
        row["max_rel_err"] = max(row["max_rel_err"], report.max_rel_err)
        row["kinks"] += len(report.kinks)
        if not report.passed:
            row["passed"] = False
            row["messages"].append(report.message)
            row["failures"].append(report.to_dict())
    return row


def _finite(value):
    """JSON has no NaN/Infinity: non-finite numbers become null (strict JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _write_json(path, rows, without_samples, device, seed, fast):
    data = {
        "device": device, "seed": seed, "mode": "fast" if fast else "full",
        "atol": 1e-5, "rtol": 1e-3, "dtype": "float64",
        "passed": sum(r["passed"] for r in rows), "failed": sum(not r["passed"] for r in rows),
        "ops": rows + [{"op": name, "differentiable": False, "passed": None,
                        "note": "no gradient samples (not differentiable)"}
                       for name in without_samples],
        "without_gradient_samples": without_samples,
    }
    with open(path, "w") as f:
        json.dump(_finite(data), f, indent=1, allow_nan=False)


def _unknown_op(op, names):
    close = difflib.get_close_matches(op, names, n=5, cutoff=0.5)
    hint = (f" Did you mean: {', '.join(close)}?" if close else
            " Run `minigrad gradcheck` (no --op) to see every registered op.")
    print(f"minigrad gradcheck: unknown op {op!r}.{hint}", file=sys.stderr)
    return 2


def _print_jacobians(spec, device, seed, out):
    """Analytical and numerical Jacobians of the smallest case, side by side (preferring a
    case whose inputs all have 2+ elements: a 1x1 Jacobian shows a student nothing)."""
    from minigrad.gradcheck import jacobians

    rng = np.random.default_rng(seed)
    cases = spec.shape_cases(rng)
    candidates = [_inputs(spec, case, rng, device) for case in cases]
    informative = [xs for xs in candidates if all(x.numel() >= 2 for x in xs)]
    inputs = min(informative or candidates, key=lambda xs: sum(x.numel() for x in xs))
    checked, analytical, numerical = jacobians(spec.fn, inputs)
    print(f"\nJacobians of {spec.name} for input shapes {_fmt_shapes(inputs)}", file=out)
    print("  row r = output element r (flattened), column c = input element c (flattened);", file=out)
    print("  analytical: from backward (one pass per output element); numerical: central "
          "differences (f(x+h) - f(x-h)) / 2h, h = 6.06e-06 * max(1, |x|)", file=out)
    with np.printoptions(precision=5, suppress=True, linewidth=200):
        for i, a, n in zip(checked, analytical, numerical):
            print(f"\ninput {i} (shape {inputs[i].shape}): Jacobian {a.shape[0]} x {a.shape[1]}", file=out)
            left = str(a).splitlines()
            right = str(n).splitlines()
            width = max(len(line) for line in left + ["analytical"])
            print(f"  {'analytical':<{width}}   | numerical", file=out)
            for la, ln in zip(left, right):
                print(f"  {la:<{width}}   | {ln}", file=out)
            print(f"  max |analytical - numerical| = {np.max(np.abs(a - n)) if a.size else 0.0:.3g}",
                  file=out)


def gradcheck_main(args, out=None):
    """Run the table; returns the exit code (0 all pass, 1 a failure, 2 a usage error)."""
    from .opspecs import ALL_SPECS

    out = out or sys.stdout
    device = getattr(args, "device", "cpu") or "cpu"
    seed = getattr(args, "seed", 0) or 0
    fast = bool(getattr(args, "fast", False))
    op = getattr(args, "op", None)
    verbose = bool(getattr(args, "verbose", False))
    json_path = getattr(args, "json", None)
    specs = [s for s in ALL_SPECS if s.differentiable]
    without_samples = sorted(s.name for s in ALL_SPECS if not s.differentiable)
    if verbose and op is None:
        print("minigrad gradcheck: --verbose prints one op's Jacobians; name it with --op NAME",
              file=sys.stderr)
        return 2
    if op is not None:
        if op in without_samples:
            print(f"minigrad gradcheck: {op!r} is registered but has no gradient samples (it is "
                  "not differentiable)", file=sys.stderr)
            return 2
        chosen = [s for s in specs if s.name == op]
        if not chosen:
            return _unknown_op(op, [s.name for s in specs] + without_samples)
        specs, without_samples = chosen, []
    if device != "cpu":
        import minigrad as mg

        try:
            mg.zeros(1).to(device)
        except (RuntimeError, ValueError, TypeError) as exc:
            print(f"minigrad gradcheck: {exc}", file=sys.stderr)
            return 2

    print(f"gradcheck of {len(specs)} op(s) on {device}, float64, "
          f"{'fast mode (random projections)' if fast else 'full Jacobian'}, relative step "
          f"6.06e-06 * max(1, |x|), atol 1e-5, rtol 1e-3, seed {seed}", file=out)
    width = max(len(s.name) for s in specs) + 1
    header = f"{'op':<{width}} {'shapes tried':<44} {'max abs err':>11} {'max rel err':>11}  result"
    rows = []
    start = time.perf_counter()
    # Rows stream out as each op finishes (the progress feedback); on a terminal, stderr also
    # names the op being checked.
    progress = sys.stderr.isatty()
    print(header, file=out)
    print("-" * len(header), file=out, flush=True)
    with _single_threaded():
        for k, spec in enumerate(specs, 1):
            if progress:
                print(f"\r[{k}/{len(specs)}] checking {spec.name} ...", end="", file=sys.stderr,
                      flush=True)
            row = _check_spec(spec, device, seed, fast)
            rows.append(row)
            if progress:
                print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)
            shapes = ", ".join(row["shapes"])
            if len(shapes) > 44:
                shapes = shapes[:41] + "..."
            kinks = f" ({row['kinks']} kink{'s' if row['kinks'] != 1 else ''})" if row["kinks"] else ""
            print(f"{row['op']:<{width}} {shapes:<44} {row['max_abs_err']:>11.2e} "
                  f"{row['max_rel_err']:>11.2e}  {'PASS' if row['passed'] else 'FAIL'}{kinks}",
                  file=out, flush=True)
        failed = [r for r in rows if not r["passed"]]
        for row in failed:
            print("\n" + "\n".join(row["messages"]), file=out)
        print(f"\n{len(rows) - len(failed)} passed, {len(failed)} failed "
              f"({time.perf_counter() - start:.1f} s)", file=out)
        if without_samples:
            print(f"registered ops without gradient samples (not differentiable): "
                  f"{', '.join(without_samples)}", file=out)
        if json_path:
            _write_json(json_path, rows, without_samples, device, seed, fast)
            print(f"wrote {json_path}", file=out)
        if op is not None and verbose:
            _print_jacobians(specs[0], device, seed, out)
    return 1 if failed else 0

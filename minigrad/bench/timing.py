"""Timing: warm-up, repeated calls until a minimum count and time, the median and spread, and
measurements split into interleaved rounds so that outside load is shared between impls."""

import time
from dataclasses import dataclass

import numpy as np


@dataclass
class Timing:
    """Seconds per call: median, quartiles and extremes of `repeats` timed calls."""

    median: float
    q1: float
    q3: float
    min: float
    max: float
    repeats: int

    @classmethod
    def from_times(cls, times):
        q1, med, q3 = np.percentile(times, [25, 50, 75])
        return cls(float(med), float(q1), float(q3), float(min(times)), float(max(times)),
                   len(times))

    @property
    def spread(self):
        """Half the inter-quartile range relative to the median (0.02 = +-2%)."""
        return (self.q3 - self.q1) / 2 / self.median if self.median > 0 else 0.0


def sample(fn, *, warmup, min_repeats, max_repeats, min_time):
    """Warm up, then time fn() until min_repeats and min_time are both reached (or max_repeats);
    the list of seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    deadline = time.perf_counter() + min_time
    while len(times) < min_repeats or (len(times) < max_repeats and time.perf_counter() < deadline):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def measure(fn, *, warmup, min_repeats, max_repeats, min_time):
    """Timing of fn(): warm-up, then the median and spread of repeated calls."""
    return Timing.from_times(sample(fn, warmup=warmup, min_repeats=min_repeats,
                                    max_repeats=max_repeats, min_time=min_time))


def _sample_round(cfg, fn, rnd, train=False):
    """One of cfg.rounds slices of a measurement (full warm-up in round 0, one call after)."""
    r = cfg.rounds
    return sample(fn, warmup=cfg.warmup if rnd == 0 else 1,
                  min_repeats=-(-cfg.min_repeats // r), max_repeats=-(-cfg.max_repeats // r),
                  min_time=(cfg.train_min_time if train else cfg.min_time) / r)


def _measure_impls(cfg, impls, train=False, progress=None):
    """{impl: Timing} for [(impl, fn)], timed in cfg.rounds interleaved rounds.

    Interleaving spreads a burst of outside load over every impl instead of one of them.
    """
    times = {impl: [] for impl, _ in impls}
    for rnd in range(cfg.rounds):
        for impl, fn in impls:
            times[impl] += _sample_round(cfg, fn, rnd, train)
    if progress is not None:
        progress.step(len(impls))
    return {impl: Timing.from_times(t) for impl, t in times.items()}

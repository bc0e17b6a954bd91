/* Thread control shared by the CPU kernels (gemm, conv, pool): how many OpenMP threads a
 * parallel loop asks for, and what the team it got looked like.
 *
 * Asking is not getting: OMP_THREAD_LIMIT, OMP_DYNAMIC, OMP_MAX_ACTIVE_LEVELS=0 or a call from
 * inside another parallel region can all hand a region fewer threads than num_threads(n)
 * requested. Every kernel therefore splits its work by the team it was granted
 * (mg_team_size() read inside the region, or an `omp for` / Cython prange loop), never by n.
 *
 * A parallel region costs microseconds to start and, on a busy 2-core machine, can stall for
 * milliseconds waiting for the second core; small problems (gradcheck's tiny tensors, a
 * batch of 1) therefore run on one thread. Built without OpenMP, everything is serial.
 *
 * Each compiled module includes this header and so has its own copy of the setting;
 * minigrad/threads.py (mg.set_num_threads) sets it in every module. Whatever is set, a region
 * never asks for more than MG_MAX_THREADS threads (a typo like set_num_threads(10**6) must not
 * try to start a million threads).
 */
#ifndef MINIGRAD_THREADS_H
#define MINIGRAD_THREADS_H

#define MG_SERIAL_BELOW 65536LL
#define MG_MAX_THREADS 256

#ifdef _OPENMP
#include <omp.h>
#endif

/* 0: follow OpenMP's default (OMP_NUM_THREADS, else one per core); else mg.set_num_threads(n) */
static int mg_num_threads_setting = 0;

/* Team size of the last parallel region a kernel of this module ran (1 for a serial run):
 * lets the tests check that mg.set_num_threads reaches the kernels. Racy under concurrent
 * calls, which is harmless for a diagnostic. */
static int mg_last_team_size = 0;

static inline int mg_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* Threads a large parallel loop asks for. */
static inline int mg_num_threads(void)
{
#ifdef _OPENMP
    int n = mg_num_threads_setting > 0 ? mg_num_threads_setting : omp_get_max_threads();
    return n < 1 ? 1 : (n > MG_MAX_THREADS ? MG_MAX_THREADS : n);
#else
    return 1;
#endif
}

static inline void mg_set_num_threads(int n) { mg_num_threads_setting = n < 0 ? 0 : n; }

/* Threads for a loop that touches `work` elements. */
static inline int mg_threads_for(long long work)
{
    return work < MG_SERIAL_BELOW ? 1 : mg_num_threads();
}

/* This thread's number in its team, and the team's size (0 and 1 outside a region). */
static inline int mg_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

static inline int mg_team_size(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
}

/* Record the current team's size (call it on any thread of a region, or outside one). */
static inline void mg_note_team(void)
{
    if (mg_thread_num() == 0) mg_last_team_size = mg_team_size();
}

/* [*lo, *hi): part t of `units` split as evenly as possible into `parts` parts. */
static inline void mg_share(long long units, int parts, int t, long long *lo, long long *hi)
{
    const long long base = units / parts, extra = units % parts; /* no units * t overflow */
    *lo = base * t + (t < extra ? t : extra);
    *hi = *lo + base + (t < extra ? 1 : 0);
}

#endif

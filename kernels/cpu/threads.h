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

/* ---- Busy machine: the default thread count gives way to other processes ----------------
 *
 * A parallel region waits for its slowest thread. When another process keeps a core busy, the
 * thread that shares that core runs at half speed (or stalls for a scheduler tick), so two
 * threads on a 2-core machine can be slower than one. With the default settings (no
 * mg.set_num_threads, no OMP_NUM_THREADS) a region therefore asks only for the cores that
 * other processes left free over the last tenth of a second or so: all CPU time the machine
 * spent (/proc/stat), minus this process's own (its idle OpenMP workers spinning included),
 * per second of wall time, is how many cores the others use. An explicit setting is obeyed
 * as it is, as PyTorch does. Without /proc/stat (not Linux) nothing changes. */

#define MG_LOAD_WINDOW 0.1 /* seconds between two looks at /proc/stat */
/* A window longer than this means the process ran no large kernel for a while: what others did
 * meanwhile says little about now (a benchmark's child process that runs only while this one
 * waits, say), so it is not used: the last cap stays and a new window starts. */
#define MG_LOAD_STALE 0.25

/* Threads to use, at most n, when other processes kept `others` of the `ncpu` CPUs busy:
 * the CPUs they left, rounded to the nearest whole one, and at least 1. */
static inline int mg_busy_threads(int n, int ncpu, double others)
{
    const double left = (double)ncpu - others;
    const int cap = left < 1.5 ? 1 : (int)(left + 0.5);
    return cap < n ? cap : n;
}

#if defined(__linux__)
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double mg_load_t0 = -1.0, mg_load_busy0 = 0.0, mg_load_self0 = 0.0;
static int mg_load_cap = 0;      /* 0: no cap (yet) */
static int mg_load_lock = 0;     /* one thread samples at a time; the others use the last cap */
static int mg_load_broken = 0;   /* /proc/stat unreadable: stop looking */
static int mg_omp_env = -1;      /* OMP_NUM_THREADS set? (-1: not looked yet) */

static inline double mg_clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds all CPUs have spent busy since boot (user, nice, system, irq, softirq, steal:
 * steal is time the hypervisor gave to someone else), and the online CPU count; -1 if unknown */
static double mg_machine_busy_seconds(int *ncpu)
{
    char buf[256];
    char *p;
    unsigned long long v[8];
    ssize_t got;
    int i, fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    long ticks = sysconf(_SC_CLK_TCK), cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (fd < 0) return -1.0;
    got = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (got < 8 || ticks <= 0 || cpus <= 0) return -1.0;
    buf[got] = 0;
    if (strncmp(buf, "cpu ", 4) != 0) return -1.0;
    p = buf + 4;
    for (i = 0; i < 8; i++) v[i] = strtoull(p, &p, 10);
    *ncpu = (int)cpus;
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)ticks;
}

/* n, or fewer when other processes keep cores busy (see above). */
static int mg_load_adjusted(int n)
{
    int cap, ncpu = 0;
    const double now = mg_clock_s(CLOCK_MONOTONIC);
    if (!mg_load_broken && now - mg_load_t0 >= MG_LOAD_WINDOW &&
        !__atomic_exchange_n(&mg_load_lock, 1, __ATOMIC_ACQUIRE)) {
        const double busy = mg_machine_busy_seconds(&ncpu);
        const double self = mg_clock_s(CLOCK_PROCESS_CPUTIME_ID);
        const double dt = now - mg_load_t0;
        if (busy < 0) {
            mg_load_broken = 1;
            __atomic_store_n(&mg_load_cap, 0, __ATOMIC_RELAXED);
        } else {
            if (mg_load_t0 >= 0 && dt <= MG_LOAD_STALE) {
                const double others = ((busy - mg_load_busy0) - (self - mg_load_self0)) / dt;
                __atomic_store_n(&mg_load_cap, mg_busy_threads(ncpu, ncpu, others),
                                 __ATOMIC_RELAXED);
            } /* else a first or stale window: keep the last cap, start a new window */
            mg_load_t0 = now;
            mg_load_busy0 = busy;
            mg_load_self0 = self;
        }
        __atomic_store_n(&mg_load_lock, 0, __ATOMIC_RELEASE);
    }
    cap = __atomic_load_n(&mg_load_cap, __ATOMIC_RELAXED);
    return cap > 0 && cap < n ? cap : n;
}

static inline int mg_default_threads_adapt(void)
{
    if (mg_omp_env < 0) mg_omp_env = getenv("OMP_NUM_THREADS") != NULL;
    return mg_num_threads_setting == 0 && !mg_omp_env;
}
#else
static inline int mg_load_adjusted(int n) { return n; }
static inline int mg_default_threads_adapt(void) { return 0; }
#endif

/* Threads a large parallel region asks for now: mg_num_threads(), less the cores other
 * processes are using when the thread count is OpenMP's default. */
static inline int mg_num_threads_now(void)
{
    const int n = mg_num_threads();
    return n > 1 && mg_default_threads_adapt() ? mg_load_adjusted(n) : n;
}

/* Threads for a loop that touches `work` elements. */
static inline int mg_threads_for(long long work)
{
    return work < MG_SERIAL_BELOW ? 1 : mg_num_threads_now();
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

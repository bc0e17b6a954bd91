/*
 * gemm_driver.h -- BLIS-style blocked GEMM driver (packing, cache blocking, threads).
 * Included once from gemm_micro.h; the type-generic part lives in gemm_driver_t.h and
 * is instantiated twice (float "_s", double "_d").
 *
 * What the driver computes
 * ------------------------
 *   C[i*N + j] = sum_p A(i, p) * B(p, j),   0 <= i < M, 0 <= j < N, 0 <= p < K
 * with A(i, p) = A[i*rsa + p*csa] and B(p, j) = B[p*rsb + j*csb].  Strides are in
 * elements and may be anything (negative, zero, transposed): that is how the Cython
 * wrapper passes transposed / sliced / broadcast numpy arrays without copying them.
 * C is always a fresh, C-contiguous M x N block (ldc = N) owned by the wrapper.
 *
 * Preconditions guaranteed by the Cython wrapper (gemm.pyx), checked with the GIL held:
 *   M, N, K >= 1; every element address A(i,p), B(p,j) lies inside its numpy buffer;
 *   A and B do not overlap C; batch offset arrays have `batch` entries.
 *
 * Loop structure (Goto/BLIS, one thread):
 *   for jc in [0, N) step NC          B block  KC x NC   -> packed once, lives in L3
 *     for pc in [0, K) step KC
 *       pack B(pc:pc+kc, jc:jc+nc) into NR-wide row panels
 *       for ic in [0, M) step MC      A block  MC x KC   -> packed, lives in L2
 *         pack A(ic:ic+mc, pc:pc+kc) into MR-tall column panels
 *         for jr in [0, nc) step NR   B micro-panel KC x NR stays in L1 over the ir loop
 *           for ir in [0, mc) step MR
 *             micro-kernel: C tile (MR x NR) (+)= Ap * Bp   (store on pc == 0, add after)
 * Ragged edges: the packers zero-pad the last panel, the micro-kernel writes a full
 * tile into a stack scratch tile, and only the valid m x n part is copied to C.
 *
 * Threads: the output is split into disjoint strips (along M when M >= N, else along N,
 * in whole MR / NR units), one per thread of the team OpenMP granted -- which can be
 * smaller than the nthreads asked for, see threads.h -- and every thread runs the serial
 * algorithm on its strip with its own pack buffers.  Each thread packs the full shared operand
 * again, which costs K*N (or M*K) extra copies against M*N*K/nt FMAs -- negligible
 * for the problems that are big enough to be threaded, and it needs no barriers.
 * Small problems (fewer than MG_PAR_MIN_WORK multiply-adds) run on one thread: on a
 * busy 2-core machine waking the second thread can stall for milliseconds.
 * Batched products run the batch loop in parallel instead when each matrix is small.
 *
 * Pack buffers are thread-local and only ever grow: allocating them per call made
 * timings swing by 2x (page faults on fresh mmap'd memory).  They are freed when their
 * thread exits (a pthread key destructor), so short-lived threads -- a Python thread, and
 * the OpenMP team libgomp keeps for it, end together -- do not leak them.
 */
#ifndef MG_GEMM_DRIVER_H
#define MG_GEMM_DRIVER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "threads.h"

#ifndef MG_PAR_MIN_WORK
#define MG_PAR_MIN_WORK (1 << 21) /* multiply-adds; below this one thread is faster */
#endif
#define MG_MAX_MR 12
#define MG_MAX_NR 32

#if defined(__GNUC__) || defined(__clang__)
#define MG_TLS __thread
#else
#define MG_TLS _Thread_local
#endif

/* Per-thread, grow-only, 64-byte aligned scratch: which = 0 A panels, 1 B panels,
 * 2 a split-K partial product.  Allocated on a thread's first GEMM and registered with
 * a pthread key whose destructor frees it when the thread exits. */
struct mg_pack_set {
    void *raw[3];
    void *buf[3];
    size_t cap[3];
};
static MG_TLS struct mg_pack_set *mg_tls_pack;
static pthread_key_t mg_pack_key;
static pthread_once_t mg_pack_key_once = PTHREAD_ONCE_INIT;
static int mg_pack_key_ok;

static void mg_pack_set_free(void *p)
{
    struct mg_pack_set *set = (struct mg_pack_set *)p;
    int i;
    for (i = 0; i < 3; i++) free(set->raw[i]);
    free(set);
    mg_tls_pack = NULL; /* key destructors run on the exiting thread itself */
}

static void mg_pack_key_create(void)
{
    mg_pack_key_ok = pthread_key_create(&mg_pack_key, mg_pack_set_free) == 0;
}

/* This thread's buffer set, created on first use; NULL if out of memory. */
static struct mg_pack_set *mg_pack_set_get(void)
{
    struct mg_pack_set *set = mg_tls_pack;
    if (set) return set;
    set = (struct mg_pack_set *)calloc(1, sizeof *set);
    if (!set) return NULL;
    pthread_once(&mg_pack_key_once, mg_pack_key_create);
    /* Without a key (all PTHREAD_KEYS_MAX taken) the set still works but lives until the
     * process ends: the pre-destructor behaviour, better than refusing to multiply. */
    if (mg_pack_key_ok && pthread_setspecific(mg_pack_key, set) != 0) {
        free(set);
        return NULL;
    }
    mg_tls_pack = set;
    return set;
}

static void *mg_pack_buffer(int which, size_t bytes)
{
    struct mg_pack_set *set = mg_pack_set_get();
    if (!set) return NULL;
    if (bytes > set->cap[which]) {
        void *raw;
        bytes = (bytes + 4095) & ~(size_t)4095; /* grow in pages: fewer regrowths */
        raw = malloc(bytes + 64);
        if (!raw) return NULL;
        free(set->raw[which]);
        set->raw[which] = raw;
        set->buf[which] = (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
        set->cap[which] = bytes;
    }
    return set->buf[which];
}

static ptrdiff_t mg_min(ptrdiff_t a, ptrdiff_t b) { return a < b ? a : b; }
static ptrdiff_t mg_max(ptrdiff_t a, ptrdiff_t b) { return a > b ? a : b; }
static ptrdiff_t mg_round_up(ptrdiff_t a, ptrdiff_t m) { return (a + m - 1) / m * m; }

/* The implicit-conv drivers' window table (conv_implicit_t.h): for k = (c*KH + i)*KW + j,
 * ktab[k] = c*H*W + i*W + j, the offset of window element k in an image of C x H x W.
 * malloc'd (the caller frees it); NULL when out of memory. */
static int64_t *mg_conv_window_offsets(ptrdiff_t C, ptrdiff_t H, ptrdiff_t W, ptrdiff_t KH,
                                       ptrdiff_t KW)
{
    const ptrdiff_t kimg = C * KH * KW;
    int64_t *ktab = (int64_t *)malloc((size_t)kimg * sizeof(int64_t));
    ptrdiff_t k;
    if (!ktab) return NULL;
    for (k = 0; k < kimg; k++) {
        const ptrdiff_t c = k / (KH * KW), i = (k / KW) % KH, j = k % KW;
        ktab[k] = (int64_t)(c * H * W + i * W + j);
    }
    return ktab;
}

#define MG_T float
#define MG_FN(name) name##_s
#define MG_KFIELD ks
#include "gemm_driver_t.h"
#include "conv_implicit_t.h"
#undef MG_T
#undef MG_FN
#undef MG_KFIELD

#define MG_T double
#define MG_FN(name) name##_d
#define MG_KFIELD kd
#include "gemm_driver_t.h"
#include "conv_implicit_t.h"
#undef MG_T
#undef MG_FN
#undef MG_KFIELD

#endif /* MG_GEMM_DRIVER_H */

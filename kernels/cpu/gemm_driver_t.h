/*
 * gemm_driver_t.h -- type-generic body of the GEMM driver; see gemm_driver.h for the
 * algorithm and preconditions.  Included with MG_T (element type), MG_FN(name) (name
 * suffixer) and MG_KFIELD (which kernel pointer of mg_gemm_cfg to use) defined.
 * No include guard on purpose.
 */

/* Pack A(0:mc, 0:kc) (A(i,p) = A[i*rsa + p*csa]) into ceil(mc/MR) column panels:
 *   dst[panel*MR*kc + p*MR + i] = A(panel*MR + i, p), rows past mc are zero.
 * Specialised on the compile-time MR (always_inline + constant argument) so the inner
 * loop is fully unrolled; rsa == 1 (a transposed A) is a straight copy per p. */
static inline __attribute__((always_inline)) void
MG_FN(mg_pack_a_mr)(ptrdiff_t mc, ptrdiff_t kc, const MG_T *A, ptrdiff_t rsa, ptrdiff_t csa,
                    MG_T *dst, const int MR)
{
    ptrdiff_t ir, p;
    int i;
    for (ir = 0; ir < mc; ir += MR) {
        const MG_T *src = A + ir * rsa;
        ptrdiff_t m = mg_min(MR, mc - ir);
        if (m == MR) {
            if (rsa == 1) {
                for (p = 0; p < kc; p++)
                    for (i = 0; i < MR; i++) dst[p * MR + i] = src[p * csa + i];
            } else if (csa == 1) {
                /* row-major A: copy 16-element row pieces (one cache line of floats),
                 * scattering into the L1-resident 16 x MR destination chunk; reading
                 * MR rows element-by-element in lock step was ~4x slower */
                ptrdiff_t p0, pn, pp;
                for (p0 = 0; p0 < kc; p0 += 16) {
                    pn = mg_min(16, kc - p0);
                    for (i = 0; i < MR; i++) {
                        const MG_T *s = src + i * rsa + p0;
                        MG_T *d = dst + p0 * MR + i;
                        for (pp = 0; pp < pn; pp++) d[pp * MR] = s[pp];
                    }
                }
            } else {
                for (p = 0; p < kc; p++)
                    for (i = 0; i < MR; i++) dst[p * MR + i] = src[i * rsa + p * csa];
            }
        } else {
            for (p = 0; p < kc; p++) {
                for (i = 0; i < m; i++) dst[p * MR + i] = src[i * rsa + p * csa];
                for (; i < MR; i++) dst[p * MR + i] = (MG_T)0;
            }
        }
        dst += (ptrdiff_t)MR * kc;
    }
}

static void MG_FN(mg_pack_a)(ptrdiff_t mc, ptrdiff_t kc, const MG_T *A, ptrdiff_t rsa,
                             ptrdiff_t csa, MG_T *dst, int mr)
{
    switch (mr) {
    case 12: MG_FN(mg_pack_a_mr)(mc, kc, A, rsa, csa, dst, 12); break;
    case 6: MG_FN(mg_pack_a_mr)(mc, kc, A, rsa, csa, dst, 6); break;
    case 4: MG_FN(mg_pack_a_mr)(mc, kc, A, rsa, csa, dst, 4); break;
    default: break; /* unreachable: every descriptor uses one of the above */
    }
}

/* Pack B(0:kc, 0:nc) (B(p,j) = B[p*rsb + j*csb]) into ceil(nc/NR) row panels:
 *   dst[panel*NR*kc + p*NR + j] = B(p, panel*NR + j), columns past nc are zero.
 * csb == 1 (plain row-major B) copies NR contiguous elements per p. */
static inline __attribute__((always_inline)) void
MG_FN(mg_pack_b_nr)(ptrdiff_t kc, ptrdiff_t nc, const MG_T *B, ptrdiff_t rsb, ptrdiff_t csb,
                    MG_T *dst, const int NR)
{
    ptrdiff_t jr, p;
    int j;
    for (jr = 0; jr < nc; jr += NR) {
        const MG_T *src = B + jr * csb;
        ptrdiff_t n = mg_min(NR, nc - jr);
        if (n == NR) {
            if (csb == 1) {
                for (p = 0; p < kc; p++)
                    for (j = 0; j < NR; j++) dst[p * NR + j] = src[p * rsb + j];
            } else if (rsb == 1) {
                /* column-major B (e.g. a row-major A after the operand swap): copy
                 * 16-element column pieces into the L1-resident 16 x NR destination chunk,
                 * as mg_pack_a_mr does for row-major A; gathering NR columns element by
                 * element per p was ~4x slower */
                ptrdiff_t p0, pn, pp;
                for (p0 = 0; p0 < kc; p0 += 16) {
                    pn = mg_min(16, kc - p0);
                    for (j = 0; j < NR; j++) {
                        const MG_T *s = src + j * csb + p0;
                        MG_T *d = dst + p0 * NR + j;
                        for (pp = 0; pp < pn; pp++) d[pp * NR] = s[pp];
                    }
                }
            } else {
                for (p = 0; p < kc; p++)
                    for (j = 0; j < NR; j++) dst[p * NR + j] = src[p * rsb + j * csb];
            }
        } else {
            for (p = 0; p < kc; p++) {
                for (j = 0; j < n; j++) dst[p * NR + j] = src[p * rsb + j * csb];
                for (; j < NR; j++) dst[p * NR + j] = (MG_T)0;
            }
        }
        dst += (ptrdiff_t)NR * kc;
    }
}

static void MG_FN(mg_pack_b)(ptrdiff_t kc, ptrdiff_t nc, const MG_T *B, ptrdiff_t rsb,
                             ptrdiff_t csb, MG_T *dst, int nr)
{
    switch (nr) {
    case 32: MG_FN(mg_pack_b_nr)(kc, nc, B, rsb, csb, dst, 32); break;
    case 16: MG_FN(mg_pack_b_nr)(kc, nc, B, rsb, csb, dst, 16); break;
    case 8: MG_FN(mg_pack_b_nr)(kc, nc, B, rsb, csb, dst, 8); break;
    default: break;
    }
}

/* Macro-kernel: C(0:mc, 0:nc) (+)= packed A block * packed B block, where
 * C(i, j) = C[i*rsc + j*csc].  Full tiles of a row-major C (csc == 1) go straight to
 * the micro-kernel; ragged tiles and transposed C (csc != 1, used when the driver
 * swapped the operands) go through the scratch tile and a strided copy. */
static void MG_FN(mg_macro)(const mg_gemm_cfg *cfg, ptrdiff_t mc, ptrdiff_t nc, ptrdiff_t kc,
                            const MG_T *pa, const MG_T *pb, MG_T *C, ptrdiff_t rsc,
                            ptrdiff_t csc, int acc)
{
    const int mr = cfg->mr, nr = cfg->nr;
    const MG_T *a;
    const MG_T *b;
    MG_T *c;
    ptrdiff_t ir, jr, i, j, m, n;
    MG_T tile[MG_MAX_MR * MG_MAX_NR] __attribute__((aligned(64)));
    for (jr = 0; jr < nc; jr += nr) {
        n = mg_min(nr, nc - jr);
        b = pb + jr * kc;
        for (ir = 0; ir < mc; ir += mr) {
            m = mg_min(mr, mc - ir);
            a = pa + ir * kc;
            c = C + ir * rsc + jr * csc;
            if (m == mr && n == nr && csc == 1) {
                cfg->MG_KFIELD(kc, a, b, c, rsc, acc);
            } else if (csc == 1) {
                /* ragged tile of a row-major C: contiguous row copies the compiler
                 * vectorises (the strided loop below does not; with M = 32 and MR = 12
                 * a third of C goes this way) */
                cfg->MG_KFIELD(kc, a, b, tile, nr, 0);
                if (acc) {
                    for (i = 0; i < m; i++)
                        for (j = 0; j < n; j++) c[i * rsc + j] += tile[i * nr + j];
                } else {
                    for (i = 0; i < m; i++)
                        for (j = 0; j < n; j++) c[i * rsc + j] = tile[i * nr + j];
                }
            } else {
                cfg->MG_KFIELD(kc, a, b, tile, nr, 0);
                for (i = 0; i < m; i++)
                    for (j = 0; j < n; j++) {
                        MG_T *cij = c + i * rsc + j * csc;
                        *cij = (acc ? *cij : (MG_T)0) + tile[i * nr + j];
                    }
            }
        }
    }
}

/* One thread, one matrix.  Returns 0, or -1 if a pack buffer could not be allocated. */
static int MG_FN(mg_gemm_serial)(const mg_gemm_cfg *cfg, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                 const MG_T *A, ptrdiff_t rsa, ptrdiff_t csa, const MG_T *B,
                                 ptrdiff_t rsb, ptrdiff_t csb, MG_T *C, ptrdiff_t rsc,
                                 ptrdiff_t csc)
{
    const int mr = cfg->mr, nr = cfg->nr;
    const ptrdiff_t MC = mg_min(cfg->mc, mg_round_up(M, mr));
    /* equal k blocks (e.g. K = 288 -> 2 x 144, not 256 + 32): a short last block would
     * pay a full extra read-modify-write of C for little work */
    const ptrdiff_t KC = mg_round_up((K + (K + cfg->kc - 1) / cfg->kc - 1) / ((K + cfg->kc - 1) / cfg->kc), 4);
    const ptrdiff_t NC = mg_min(cfg->nc, mg_round_up(N, nr));
    ptrdiff_t jc, pc, ic, i, j;
    MG_T *pa, *pb;

    if (M <= 0 || N <= 0) return 0;
    if (K <= 0) {
        for (i = 0; i < M; i++)
            for (j = 0; j < N; j++) C[i * rsc + j * csc] = (MG_T)0;
        return 0;
    }
    pa = (MG_T *)mg_pack_buffer(0, (size_t)(MC * KC) * sizeof(MG_T));
    pb = (MG_T *)mg_pack_buffer(1, (size_t)(NC * KC) * sizeof(MG_T));
    if (!pa || !pb) return -1;

    for (jc = 0; jc < N; jc += NC) {
        const ptrdiff_t nc = mg_min(NC, N - jc);
        for (pc = 0; pc < K; pc += KC) {
            const ptrdiff_t kc = mg_min(KC, K - pc);
            MG_FN(mg_pack_b)(kc, nc, B + pc * rsb + jc * csb, rsb, csb, pb, nr);
            for (ic = 0; ic < M; ic += MC) {
                const ptrdiff_t mc = mg_min(MC, M - ic);
                MG_FN(mg_pack_a)(mc, kc, A + ic * rsa + pc * csa, rsa, csa, pa, mr);
                MG_FN(mg_macro)(cfg, mc, nc, kc, pa, pb, C + ic * rsc + jc * csc, rsc, csc, pc > 0);
            }
        }
    }
    return 0;
}

/* Called by every thread of a team that split a sum (a K split): after a barrier, adds the
 * private M x N partials part[1..team) (row-major) into C(i, j) = C[i*rsc + j*csc], each
 * thread a band of rows, while every thread (and so its thread-local partial) is still
 * alive.  Nothing is added when a thread failed (*err set before the barrier). */
static void MG_FN(mg_sum_partials)(MG_T *C, ptrdiff_t rsc, ptrdiff_t csc, ptrdiff_t M,
                                   ptrdiff_t N, MG_T *const *part, int team, int t,
                                   const int *err)
{
    long long lo, hi;
    ptrdiff_t i, j;
    int failed, s;
#ifdef _OPENMP
#pragma omp barrier
#pragma omp atomic read
#endif
    failed = *err;
    mg_share(M, team, t, &lo, &hi);
    for (s = 1; s < team && !failed; s++)
        for (i = lo; i < hi; i++)
            for (j = 0; j < N; j++) C[i * rsc + j * csc] += part[s][i * N + j];
}

/* One matrix on up to nt threads.  C(i, j) = C[i*rsc + j*csc].
 *
 * Operand swap: C = A B is computed as C^T = B^T A^T (same arrays, strides exchanged,
 * C written transposed through the scratch tile) when that wastes much less of the
 * MR x NR register tile, e.g. N = 10 or 9 against NR = 32.
 * Threads: C is cut into strips along M or N (whole MR/NR units), or K is split and
 * the partial products summed, whichever gives the fewest tile-k steps per thread for nt
 * threads; the strips themselves are cut by the team actually granted. */
static int MG_FN(mg_gemm_one)(const mg_gemm_cfg *cfg, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                              const MG_T *A, ptrdiff_t rsa, ptrdiff_t csa, const MG_T *B,
                              ptrdiff_t rsb, ptrdiff_t csb, MG_T *C, ptrdiff_t rsc,
                              ptrdiff_t csc, int nt, int may_swap)
{
    const ptrdiff_t mr = cfg->mr, nr = cfg->nr;
    int err = 0, how;
    ptrdiff_t tm, tn;
    double cost_m, cost_n, cost_k, kstep;
    MG_T *part[64];
#if MG_X86_SIMD
    /* a small, thin product (one side at most 12, where a packed MR x NR tile is mostly
     * padding) with both operands along K (A row-major, B transposed): the dot-product
     * kernel, no packing (gemm_micro.h).  Measured on a busy Zen 3, interleaved:
     * 128x10x128 14 vs 21 us, 300x8x200 26 vs 58 us; 128x32x128 was faster packed. */
    if (may_swap && csa == 1 && rsb == 1 && K >= 32 && (M <= 12 || N <= 12) &&
        mg_gemm_isa >= MG_ISA_AVX2 && (double)M * (double)N * (double)K < (double)MG_PAR_MIN_WORK) {
        mg_note_team();
        if (sizeof(MG_T) == sizeof(float))
            mg_dot_avx2_s(M, N, K, (const float *)A, rsa, (const float *)B, csb, (float *)C,
                          rsc, csc);
        else
            mg_dot_avx2_d(M, N, K, (const double *)A, rsa, (const double *)B, csb,
                          (double *)C, rsc, csc);
        return 0;
    }
#endif
    if (may_swap) {
        const double eff = (double)M / mg_round_up(M, mr) * (double)N / mg_round_up(N, nr);
        const double eff_sw = (double)N / mg_round_up(N, mr) * (double)M / mg_round_up(M, nr);
        if (eff_sw > 1.25 * eff)
            return MG_FN(mg_gemm_one)(cfg, N, M, K, B, csb, rsb, A, csa, rsa, C, csc, rsc, nt, 0);
    }
    if (nt > 64) nt = 64;
    if (nt <= 1 || (double)M * (double)N * (double)K < (double)MG_PAR_MIN_WORK) {
        mg_note_team();
        return MG_FN(mg_gemm_serial)(cfg, M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc);
    }
    tm = (M + mr - 1) / mr;
    tn = (N + nr - 1) / nr;
    /* cost on the busiest thread, in cycles, roughly: a micro-tile k step is MR*NR FMAs
     * (about MR*NR*sizeof(T)/64 cycles: one 64-byte vector FMA per cycle) and packing one
     * element about one cycle.  Packing matters: every thread packs the whole of the
     * operand that is not split, so for a long, thin product (64 x 15488 x 288, the conv
     * GEMM) splitting the wrong side makes both threads copy the same 18 MB.  A K split
     * also pays a reduction. */
    kstep = (double)(mr * nr) * (double)sizeof(MG_T) / 64.0;
    cost_m = (double)((tm + nt - 1) / nt) * tn * K * kstep + (double)K * N
             + (double)((tm + nt - 1) / nt) * mr * K;
    cost_n = (double)tm * ((tn + nt - 1) / nt) * K * kstep + (double)M * K
             + (double)((tn + nt - 1) / nt) * nr * K;
    cost_k = K >= 512 * nt ? (double)tm * tn * ((K + nt - 1) / nt + 8 * nt) * kstep
                                 + ((double)M * K + (double)K * N) / nt
                           : 1e300;
    how = cost_m <= cost_n && cost_m <= cost_k ? 0 : (cost_n <= cost_k ? 1 : 2);
    if (how == 0 && nt > tm) nt = (int)tm;
    if (how == 1 && nt > tn) nt = (int)tn;
    if (nt <= 1) {
        mg_note_team();
        return MG_FN(mg_gemm_serial)(cfg, M, N, K, A, rsa, csa, B, rsb, csb, C, rsc, csc);
    }
    /* The split is made inside the region, by the team OpenMP actually granted, which may be
     * smaller than nt (see threads.h): a split by nt would leave chunks nobody computes. */
#ifdef _OPENMP
#pragma omp parallel num_threads(nt)
#endif
    {
        const int t = mg_thread_num(), team = mg_team_size();
        long long lo, hi;
        int e = 0;
        mg_note_team();
        if (how == 0) { /* rows, in whole MR tiles */
            mg_share(tm, team, t, &lo, &hi);
            lo *= mr;
            hi = mg_min(M, hi * mr);
            if (lo < hi)
                e = MG_FN(mg_gemm_serial)(cfg, hi - lo, N, K, A + lo * rsa, rsa, csa, B, rsb,
                                          csb, C + lo * rsc, rsc, csc);
        } else if (how == 1) { /* columns, in whole NR tiles */
            mg_share(tn, team, t, &lo, &hi);
            lo *= nr;
            hi = mg_min(N, hi * nr);
            if (lo < hi)
                e = MG_FN(mg_gemm_serial)(cfg, M, hi - lo, K, A, rsa, csa, B + lo * csb, rsb,
                                          csb, C + lo * csc, rsc, csc);
        } else { /* K, in groups of 8: thread 0 writes C, the others a private M x N partial
                  * (an empty K range gives a zero partial via the K <= 0 path) */
            mg_share((K + 7) / 8, team, t, &lo, &hi);
            lo = mg_min(K, lo * 8);
            hi = mg_min(K, hi * 8);
            part[t] = t == 0 ? C : (MG_T *)mg_pack_buffer(2, (size_t)(M * N) * sizeof(MG_T));
            if (!part[t]) e = -1;
            else if (t == 0)
                e = MG_FN(mg_gemm_serial)(cfg, M, N, hi - lo, A + lo * csa, rsa, csa,
                                          B + lo * rsb, rsb, csb, C, rsc, csc);
            else
                e = MG_FN(mg_gemm_serial)(cfg, M, N, hi - lo, A + lo * csa, rsa, csa,
                                          B + lo * rsb, rsb, csb, part[t], N, 1);
        }
        if (e) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            err = e;
        }
        if (how == 2) MG_FN(mg_sum_partials)(C, rsc, csc, M, N, part, team, t, &err);
    }
    return err;
}

/* Public entry point: `batch` products C[b] = A[aoff[b]:] @ B[boff[b]:] with C[b] the
 * b-th contiguous M x N block of C.  Returns 0 or -1 (out of memory). */
static int MG_FN(mg_gemm_batched)(ptrdiff_t batch, ptrdiff_t M, ptrdiff_t N, ptrdiff_t K,
                                  const MG_T *A, const int64_t *aoff, ptrdiff_t rsa,
                                  ptrdiff_t csa, const MG_T *B, const int64_t *boff,
                                  ptrdiff_t rsb, ptrdiff_t csb, MG_T *C)
{
    const mg_gemm_cfg *fcfg, *dcfg, *cfg;
    const int nt = mg_num_threads_now();
    const double work = (double)M * (double)N * (double)K;
    ptrdiff_t b;
    int err = 0;
    mg_gemm_cfgs(&fcfg, &dcfg);
    cfg = sizeof(MG_T) == sizeof(float) ? fcfg : dcfg;

    if (batch > 1 && nt > 1 && work < (double)MG_PAR_MIN_WORK &&
        work * (double)batch >= (double)MG_PAR_MIN_WORK) {
        /* many small matrices: one thread per matrix */
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(nt)
#endif
        for (b = 0; b < batch; b++) {
            int e = MG_FN(mg_gemm_one)(cfg, M, N, K, A + aoff[b], rsa, csa, B + boff[b], rsb,
                                       csb, C + b * M * N, N, 1, 1, 1);
            if (e) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
                err = e;
            }
        }
        return err;
    }
    for (b = 0; b < batch && !err; b++)
        err = MG_FN(mg_gemm_one)(cfg, M, N, K, A + aoff[b], rsa, csa, B + boff[b], rsb, csb,
                                 C + b * M * N, N, 1, nt, 1);
    return err;
}

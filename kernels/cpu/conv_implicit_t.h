/*
 * conv_implicit_t.h -- type-generic implicit-GEMM convolution forward; included from
 * gemm_driver.h next to gemm_driver_t.h, with the same MG_T / MG_FN / MG_KFIELD macros.
 * No include guard on purpose.
 *
 * What it computes (x already padded by the caller, so no bounds tests here):
 *   y[n, o, oh, ow] = sum_k Wk[o, k] * X(k, q)  (+ Wk[o, Kimg] when has_bias)
 * where q = n*L + oh*OW + ow (L = OH*OW) numbers the output pixels of the whole batch and
 *   X(k, q) = x[n, c, oh*sh + i, ow*sw + j],   k = (c*KH + i)*KW + j,
 * is the im2col matrix -- never written out.  X(k, q) = x[ktab[k] + qoff(q)] with
 *   ktab[k] = c*H*W + i*W + j   and   qoff(q) = n*C*H*W + oh*sh*W + ow*sw,
 * so the B packer gathers each micro-panel (kc x NR) straight from the image: no column
 * matrix of K x N*L elements to write and read back, which took as long as the GEMM.
 * With has_bias the packer adds a row of ones (k == Kimg) and Wk carries the bias as its
 * last column, so the bias costs one extra k step instead of a pass over y.
 *
 * Loop order (M = O is small, the pixels are many):
 *   pack all of Wk once per thread (ceil(O/MR) panels per k block; a few tens of KB, L2)
 *   for each NR-wide panel of pixels in this thread's share:
 *     for each k block: pack the kc x NR B micro-panel from x (L1), run the MR-tall tiles
 * Each output tile is finished (all k blocks) while it is in L1.  A panel whose NR pixels
 * lie in one image is a plain (O x NR) block of y[n] with row stride L: the micro-kernel
 * writes it in place.  Ragged tiles (last rows of O, the last panel, a panel that crosses
 * an image boundary) go through the scratch tile and a scatter.
 */

#ifndef MG_CONV_MAX_PB
#define MG_CONV_MAX_PB 32 /* pixel panels per block of the forward (see npb) */
#endif
#ifndef MG_CONV_MAX_RUNS
#define MG_CONV_MAX_RUNS 4 /* more runs than this per panel: the element-wise gather */
#endif

static inline __attribute__((always_inline)) void
MG_FN(mg_conv_pack_b_nr)(ptrdiff_t kc, ptrdiff_t p0, ptrdiff_t kimg, ptrdiff_t n,
                         const int64_t *qoff, int nruns, const int *rstart, const int64_t *roff,
                         const int64_t *ktab, const MG_T *x, MG_T *dst, const int NR)
{
    ptrdiff_t p, j;
    int r;
    /* rows of the image part, then the bias row of ones (k == kimg) if this block has it */
    const ptrdiff_t kx = mg_min(kc, mg_max(0, kimg - p0));
    if (nruns > 0) {
        /* the panel's pixels form nruns runs of consecutive elements of x: copy NR elements
         * from the start of each run, in order, so a later run overwrites the tail of the
         * one before; the copy past a row's end lands in the next row (written after it) or
         * in the buffer's NR elements of slack */
        for (p = 0; p < kx; p++) {
            const MG_T *s = x + ktab[p0 + p];
            MG_T *d = dst + p * NR;
            for (r = 0; r < nruns; r++) memcpy(d + rstart[r], s + roff[r], NR * sizeof(MG_T));
        }
    } else if (n == NR) {
        int64_t q[MG_MAX_NR];
        for (j = 0; j < NR; j++) q[j] = qoff[j];
        for (p = 0; p < kx; p++) {
            const MG_T *s = x + ktab[p0 + p];
            for (j = 0; j < NR; j++) dst[p * NR + j] = s[q[j]];
        }
    } else {
        for (p = 0; p < kx; p++) {
            const MG_T *s = x + ktab[p0 + p];
            for (j = 0; j < n; j++) dst[p * NR + j] = s[qoff[j]];
            for (; j < NR; j++) dst[p * NR + j] = (MG_T)0;
        }
    }
    for (p = kx; p < kc; p++) {
        for (j = 0; j < n; j++) dst[p * NR + j] = (MG_T)1; /* the bias row */
        for (; j < NR; j++) dst[p * NR + j] = (MG_T)0;
    }
}

/* Pack the kc x NR micro-panel of X for k in [p0, p0 + kc) and the n <= NR pixels whose
 * offsets qoff holds: dst[p*NR + j] = X(p0 + p, pixel j), ones for the bias row k == kimg,
 * zeros past n.  Specialised on the compile-time NR, as mg_pack_b. */
static void MG_FN(mg_conv_pack_b)(ptrdiff_t kc, ptrdiff_t p0, ptrdiff_t kimg, ptrdiff_t n,
                                  const int64_t *qoff, int nruns, const int *rstart,
                                  const int64_t *roff, const int64_t *ktab, const MG_T *x,
                                  MG_T *dst, int nr)
{
    switch (nr) {
    case 32: MG_FN(mg_conv_pack_b_nr)(kc, p0, kimg, n, qoff, nruns, rstart, roff, ktab, x, dst, 32); break;
    case 16: MG_FN(mg_conv_pack_b_nr)(kc, p0, kimg, n, qoff, nruns, rstart, roff, ktab, x, dst, 16); break;
    case 8: MG_FN(mg_conv_pack_b_nr)(kc, p0, kimg, n, qoff, nruns, rstart, roff, ktab, x, dst, 8); break;
    default: break; /* unreachable: every descriptor uses one of the above */
    }
}

/* Returns 0, or -1 when a buffer could not be allocated.  Preconditions (checked by the
 * Cython wrapper): all sizes >= 1, OH = (H - KH)/sh + 1 and OW = (W - KW)/sw + 1, x is
 * C-contiguous (N, C, H, W), wk C-contiguous (O, kw_cols) with kw_cols = C*KH*KW + has_bias,
 * y C-contiguous (N, O, OH, OW), no overlap of y with x or wk. */
static int MG_FN(mg_conv_fwd_implicit)(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,
                                       ptrdiff_t O, ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh,
                                       ptrdiff_t sw, ptrdiff_t OH, ptrdiff_t OW, int has_bias,
                                       const MG_T *x, const MG_T *wk, MG_T *y)
{
    const mg_gemm_cfg *fcfg, *dcfg, *cfg;
    const ptrdiff_t kimg = C * KH * KW, ktot = kimg + (has_bias ? 1 : 0);
    const ptrdiff_t L = OH * OW, P = N * L;
    ptrdiff_t nkb, KC, mpad, tiles, npb;
    int64_t *ktab, kmax, xsize;
    int err = 0, nt;

    mg_gemm_cfgs(&fcfg, &dcfg);
    cfg = sizeof(MG_T) == sizeof(float) ? fcfg : dcfg;
    /* k blocks of equal size, at most cfg->kc (as mg_gemm_serial) */
    nkb = (ktot + cfg->kc - 1) / cfg->kc;
    KC = mg_round_up((ktot + nkb - 1) / nkb, 4);
    mpad = mg_round_up(O, cfg->mr);
    tiles = (P + cfg->nr - 1) / cfg->nr;
    /* panels per block: as many as keep their packed B (kc x NR each) within ~16 KB of L1,
     * when K is one k block (a short K, the first layer's 9 + 1); else one.  With one panel
     * per block a short-K layer wrote y as O interleaved streams of NR elements, too many for
     * the prefetchers: conv1 (1->32, 28x28, N=128) took 1.89 ms with 1 panel, 1.39 with 4,
     * 1.30 with 21 (medians of 4 interleaved child runs, Zen 3, 2 threads). */
    npb = nkb == 1 ? (ptrdiff_t)(16384 / ((size_t)(KC * cfg->nr) * sizeof(MG_T))) : 1;
    npb = mg_max(1, mg_min(npb, MG_CONV_MAX_PB));

    xsize = (int64_t)(N * C * H * W);
    ktab = mg_conv_window_offsets(C, H, W, KH, KW);
    if (!ktab) return -1;
    kmax = ktab[kimg - 1];

    nt = mg_num_threads_now();
    if ((double)O * (double)P * (double)ktot < (double)MG_PAR_MIN_WORK) nt = 1;
    if (nt > tiles) nt = (int)tiles;
    if (nt < 1) nt = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        const int mr = cfg->mr, nr = cfg->nr;
        const int t = mg_thread_num(), team = mg_team_size();
        long long lo, hi, tb;
        ptrdiff_t pc, ir, i, j, bi, nbk;
        /* per panel of the current block: pixel offsets in x and y, runs, where it starts */
        int64_t qoff[MG_MAX_NR], yoff[MG_CONV_MAX_PB][MG_MAX_NR], roff[MG_CONV_MAX_PB][MG_MAX_NR];
        int rstart[MG_CONV_MAX_PB][MG_MAX_NR], nruns[MG_CONV_MAX_PB], direct[MG_CONV_MAX_PB];
        ptrdiff_t q0s[MG_CONV_MAX_PB], ns[MG_CONV_MAX_PB], img0s[MG_CONV_MAX_PB];
        MG_T tile_buf[MG_MAX_MR * MG_MAX_NR] __attribute__((aligned(64)));
        MG_T *pa = (MG_T *)mg_pack_buffer(0, (size_t)(mpad * ktot) * sizeof(MG_T));
        MG_T *pb = (MG_T *)mg_pack_buffer(1, (size_t)(npb * nr * KC + nr) * sizeof(MG_T));
        mg_note_team(); /* (+ nr: the slack the run copies may write past a panel's end) */
        if (!pa || !pb) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            err = -1;
        } else {
            /* Wk, every k block: block pc starts at pa + mpad*pc, its panels MR*kc apart */
            for (pc = 0; pc < ktot; pc += KC)
                MG_FN(mg_pack_a)(O, mg_min(KC, ktot - pc), wk + pc, ktot, 1, pa + mpad * pc, mr);
            mg_share(tiles, team, t, &lo, &hi);
            for (tb = lo; tb < hi; tb += npb) {
                nbk = (ptrdiff_t)mg_min(npb, hi - tb);
                for (bi = 0; bi < nbk; bi++) {
                    const ptrdiff_t q0 = (ptrdiff_t)(tb + bi) * nr, n = mg_min(nr, P - q0);
                    int nr_ = 0;
                    q0s[bi] = q0;
                    ns[bi] = n;
                    img0s[bi] = q0 / L;
                    direct[bi] = n == nr && (q0 + n - 1) / L == img0s[bi];
                    for (j = 0; j < n; j++) {
                        const ptrdiff_t q = q0 + j, img = q / L, l = q % L;
                        qoff[j] = (int64_t)(img * C * H * W + (l / OW) * sh * W + (l % OW) * sw);
                        yoff[bi][j] = (int64_t)(img * O * L + l);
                    }
                    /* runs of consecutive offsets (stride-1 pixels of one output row); a full
                     * panel of few runs whose NR-element copies stay inside x takes the copy
                     * path; the others keep their offsets for the element-wise gather */
                    for (j = 0; j < n && nr_ <= MG_CONV_MAX_RUNS; j++)
                        if (j == 0 || qoff[j] != qoff[j - 1] + 1) {
                            if (nr_ < MG_CONV_MAX_RUNS) {
                                rstart[bi][nr_] = (int)j;
                                roff[bi][nr_] = qoff[j];
                            }
                            nr_++;
                        }
                    if (n < nr || nr_ > MG_CONV_MAX_RUNS || roff[bi][nr_ - 1] + kmax + nr > xsize) {
                        nr_ = 0;
                        for (j = 0; j < n; j++) roff[bi][j] = qoff[j];
                    }
                    nruns[bi] = nr_;
                }
                for (pc = 0; pc < ktot; pc += KC) {
                    const ptrdiff_t kc = mg_min(KC, ktot - pc);
                    const MG_T *pa_k = pa + mpad * pc;
                    for (bi = 0; bi < nbk; bi++)
                        MG_FN(mg_conv_pack_b)(kc, pc, kimg, ns[bi], roff[bi], nruns[bi],
                                              rstart[bi], roff[bi], ktab, x,
                                              pb + bi * nr * KC, nr);
                    /* every panel of the block for one W row tile, then the next: each row of
                     * y is written as one stretch of the block's pixels */
                    for (ir = 0; ir < O; ir += mr) {
                        const ptrdiff_t m = mg_min(mr, O - ir);
                        const MG_T *a = pa_k + ir * kc;
                        for (bi = 0; bi < nbk; bi++) {
                            const MG_T *b = pb + bi * nr * KC;
                            const ptrdiff_t n = ns[bi];
                            if (direct[bi] && m == mr) {
                                cfg->MG_KFIELD(kc, a, b, y + img0s[bi] * O * L + ir * L
                                                             + (q0s[bi] - img0s[bi] * L),
                                               L, pc > 0);
                                continue;
                            }
                            cfg->MG_KFIELD(kc, a, b, tile_buf, nr, 0);
                            for (i = 0; i < m; i++) {
                                MG_T *yrow = y + (ir + i) * L;
                                const MG_T *trow = tile_buf + i * nr;
                                if (pc > 0)
                                    for (j = 0; j < n; j++) yrow[yoff[bi][j]] += trow[j];
                                else
                                    for (j = 0; j < n; j++) yrow[yoff[bi][j]] = trow[j];
                            }
                        }
                    }
                }
            }
        }
    }
    free(ktab);
    return err;
}

/* ------------------------------------------------------------------------------------
 * Implicit-GEMM weight gradient:
 *   gwt[k, o] = sum_q X(k, q) * gy[n, o, l]      (q = n*L + l, X as above, x padded)
 * i.e. gwt = X @ G with G(q, o) = gy[goff(q) + o*L], goff(q) = n*O*L + l: a GEMM of
 * M = Kimg rows, N = O columns and the pixels as its long contraction.  Both operands are
 * packed straight from x and gy (no column matrix, no (O, N*L) copy of gy).  The threads
 * split the pixels (a K split of the GEMM): each sums its share into a private Kimg x O
 * partial, thread 0 into gwt itself, and the partials are added at the end.
 * ---------------------------------------------------------------------------------- */

/* A block: rows k0 .. k0+mc of X, pixels whose offsets qoff[0..kc) holds, into MR-tall
 * panels: dst[panel*MR*kc + p*MR + i] = X(k0 + panel*MR + i, pixel p); rows past mc zero. */
static void MG_FN(mg_conv_pack_x_rows)(ptrdiff_t mc, ptrdiff_t kc, const int64_t *ktab,
                                       const int64_t *qoff, const MG_T *x, MG_T *dst, int mr)
{
    ptrdiff_t ir, i, p;
    for (ir = 0; ir < mc; ir += mr) {
        const ptrdiff_t m = mg_min(mr, mc - ir);
        for (i = 0; i < m; i++) {
            const MG_T *s = x + ktab[ir + i];
            for (p = 0; p < kc; p++) dst[p * mr + i] = s[qoff[p]];
        }
        for (; i < mr; i++)
            for (p = 0; p < kc; p++) dst[p * mr + i] = (MG_T)0;
        dst += (ptrdiff_t)mr * kc;
    }
}

/* B block: G for the kc pixels whose gy offsets goff holds, all O channels, into NR-wide
 * panels: dst[panel*NR*kc + p*NR + j] = gy[goff[p] + (panel*NR + j)*L]; columns past O zero. */
static void MG_FN(mg_conv_pack_gy)(ptrdiff_t kc, ptrdiff_t O, ptrdiff_t L, const int64_t *goff,
                                   const MG_T *gy, MG_T *dst, int nr)
{
    ptrdiff_t jr, j, p;
    for (jr = 0; jr < O; jr += nr) {
        const ptrdiff_t n = mg_min(nr, O - jr);
        for (j = 0; j < n; j++) {
            const MG_T *s = gy + (jr + j) * L;
            for (p = 0; p < kc; p++) dst[p * nr + j] = s[goff[p]];
        }
        for (; j < nr; j++)
            for (p = 0; p < kc; p++) dst[p * nr + j] = (MG_T)0;
        dst += (ptrdiff_t)nr * kc;
    }
}

/* gwt (Kimg x O, C-contiguous) = X @ G.  Preconditions as mg_conv_fwd_implicit (x padded,
 * OH/OW consistent, gy (N, O, OH, OW) C-contiguous, gwt not overlapping x or gy).
 * Returns 0, or -1 when a buffer could not be allocated. */
static int MG_FN(mg_conv_dw_implicit)(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,
                                      ptrdiff_t O, ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh,
                                      ptrdiff_t sw, ptrdiff_t OH, ptrdiff_t OW, const MG_T *x,
                                      const MG_T *gy, MG_T *gwt)
{
    const mg_gemm_cfg *fcfg, *dcfg, *cfg;
    const ptrdiff_t kimg = C * KH * KW, L = OH * OW, P = N * L;
    ptrdiff_t MC, KC, NC;
    int64_t *ktab;
    int err = 0, nt;
    MG_T *part[64];

    mg_gemm_cfgs(&fcfg, &dcfg);
    cfg = sizeof(MG_T) == sizeof(float) ? fcfg : dcfg;
    MC = mg_min(cfg->mc, mg_round_up(kimg, cfg->mr));
    NC = mg_round_up(O, cfg->nr); /* all of O in one B block: O is a layer's channel count */
    KC = cfg->kc;
    ktab = mg_conv_window_offsets(C, H, W, KH, KW);
    if (!ktab) return -1;
    nt = mg_num_threads_now();
    if ((double)kimg * (double)O * (double)P < (double)MG_PAR_MIN_WORK) nt = 1;
    if (nt > 64) nt = 64;
    if ((ptrdiff_t)nt > (P + KC - 1) / KC) nt = (int)((P + KC - 1) / KC);
    if (nt < 1) nt = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        const int t = mg_thread_num(), team = mg_team_size();
        long long lo, hi;
        ptrdiff_t q0, ic, p, i;
        int first = 1, e = 0;
        MG_T *pa = (MG_T *)mg_pack_buffer(0, (size_t)(MC * KC) * sizeof(MG_T));
        MG_T *pb = (MG_T *)mg_pack_buffer(1, (size_t)(NC * KC) * sizeof(MG_T));
        /* offsets of a block's pixels in x and gy: the last slot of the B buffer set would do,
         * but a separate small allocation keeps the layouts plain */
        int64_t *qoff = (int64_t *)malloc((size_t)(2 * KC) * sizeof(int64_t));
        int64_t *goff = qoff ? qoff + KC : NULL;
        mg_note_team();
        part[t] = t == 0 ? gwt : (MG_T *)mg_pack_buffer(2, (size_t)(kimg * O) * sizeof(MG_T));
        if (!pa || !pb || !qoff || !part[t]) e = -1;
        /* this thread's pixels, in whole blocks of KC */
        mg_share((P + KC - 1) / KC, team, t, &lo, &hi);
        lo *= KC;
        hi = mg_min(P, hi * KC);
        if (!e) {
            if (lo >= hi)
                for (i = 0; i < kimg * O; i++) part[t][i] = (MG_T)0;
            for (q0 = lo; q0 < hi; q0 += KC) {
                const ptrdiff_t kc = mg_min(KC, hi - q0);
                for (p = 0; p < kc; p++) {
                    const ptrdiff_t q = q0 + p, img = q / L, l = q % L;
                    qoff[p] = (int64_t)(img * C * H * W + (l / OW) * sh * W + (l % OW) * sw);
                    goff[p] = (int64_t)(img * O * L + l);
                }
                MG_FN(mg_conv_pack_gy)(kc, O, L, goff, gy, pb, cfg->nr);
                for (ic = 0; ic < kimg; ic += MC) {
                    const ptrdiff_t mc = mg_min(MC, kimg - ic);
                    MG_FN(mg_conv_pack_x_rows)(mc, kc, ktab + ic, qoff, x, pa, cfg->mr);
                    MG_FN(mg_macro)(cfg, mc, O, kc, pa, pb, part[t] + ic * O, O, 1, !first);
                }
                first = 0;
            }
        }
        if (e) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            err = e;
        }
        MG_FN(mg_sum_partials)(gwt, O, 1, kimg, O, part, team, t, &err);
        free(qoff);
    }
    free(ktab);
    return err;
}

/* ------------------------------------------------------------------------------------
 * Implicit-GEMM input gradient:
 *   gx[n, c, oh*sh + i, ow*sw + j] += sum_o W[o, k] * gy[n, o, l]   (k = (c*KH + i)*KW + j)
 * i.e. the gradient columns GC = W^T @ G^T (Kimg x pixels) summed into the image as col2im
 * would -- but a tile at a time, straight from the micro-kernel's scratch tile while it is in
 * L1: no (Kimg, N*L) gradient-column matrix, no (O, N*L) copy of gy.  A = W^T is packed once
 * per thread; each NR-pixel panel of gy (O x NR) is packed and multiplied by every MR-row
 * tile of A.  The threads split whole images, so no two threads add into the same gx pixel.
 * gx is the padded input's gradient (the caller crops it) and is zeroed here.
 * ---------------------------------------------------------------------------------- */
static int MG_FN(mg_conv_dx_implicit)(ptrdiff_t N, ptrdiff_t C, ptrdiff_t H, ptrdiff_t W,
                                      ptrdiff_t O, ptrdiff_t KH, ptrdiff_t KW, ptrdiff_t sh,
                                      ptrdiff_t sw, ptrdiff_t OH, ptrdiff_t OW, const MG_T *w,
                                      const MG_T *gy, MG_T *gx)
{
    const mg_gemm_cfg *fcfg, *dcfg, *cfg;
    const ptrdiff_t kimg = C * KH * KW, L = OH * OW, chw = C * H * W;
    ptrdiff_t nkb, KC, mpad;
    int64_t *ktab;
    int err = 0, nt;

    mg_gemm_cfgs(&fcfg, &dcfg);
    cfg = sizeof(MG_T) == sizeof(float) ? fcfg : dcfg;
    nkb = (O + cfg->kc - 1) / cfg->kc; /* the contraction runs over the O channels */
    KC = mg_round_up((O + nkb - 1) / nkb, 4);
    mpad = mg_round_up(kimg, cfg->mr);
    ktab = mg_conv_window_offsets(C, H, W, KH, KW);
    if (!ktab) return -1;
    nt = mg_num_threads_now();
    if ((double)kimg * (double)O * (double)N * (double)L < (double)MG_PAR_MIN_WORK) nt = 1;
    if (nt > N) nt = (int)N;
    if (nt < 1) nt = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(nt) if (nt > 1)
#endif
    {
        const int mr = cfg->mr, nr = cfg->nr;
        const int t = mg_thread_num(), team = mg_team_size();
        long long lo, hi;
        ptrdiff_t q0, qbeg, qend, pc, ir, i, j, p;
        int64_t qoff[MG_MAX_NR], goff[MG_MAX_NR], roff[MG_MAX_NR];
        int rstart[MG_MAX_NR + 1], nruns, r;
        MG_T tile_buf[MG_MAX_MR * MG_MAX_NR] __attribute__((aligned(64)));
        MG_T *pa = (MG_T *)mg_pack_buffer(0, (size_t)(mpad * O) * sizeof(MG_T));
        MG_T *pb = (MG_T *)mg_pack_buffer(1, (size_t)(nr * KC) * sizeof(MG_T));
        mg_note_team();
        mg_share(N, team, t, &lo, &hi); /* whole images */
        if (!pa || !pb) {
#ifdef _OPENMP
#pragma omp atomic write
#endif
            err = -1;
        } else if (lo < hi) {
            memset(gx + lo * chw, 0, (size_t)((hi - lo) * chw) * sizeof(MG_T));
            /* A = W^T (A(k, o) = w[o*kimg + k]), every block of the O contraction */
            for (pc = 0; pc < O; pc += KC)
                MG_FN(mg_pack_a)(kimg, mg_min(KC, O - pc), w + pc * kimg, 1, kimg,
                                 pa + mpad * pc, mr);
            /* panels aligned to multiples of NR from the batch's first pixel, cut at this
             * thread's ends: every gx element then receives its terms in the same order
             * whatever the thread count (bit-identical results with 1 and 2 threads) */
            qbeg = (ptrdiff_t)lo * L;
            qend = (ptrdiff_t)hi * L;
            for (q0 = qbeg / nr * nr; q0 < qend; q0 += nr) {
                const ptrdiff_t qa = mg_max(q0, qbeg), n = mg_min(q0 + nr, qend) - qa;
                for (j = 0; j < n; j++) {
                    const ptrdiff_t q = qa + j, img = q / L, l = q % L;
                    qoff[j] = (int64_t)(img * chw + (l / OW) * sh * W + (l % OW) * sw);
                    goff[j] = (int64_t)(img * O * L + l);
                }
                /* runs of pixels consecutive in gx (stride 1 along a row): the tile's rows are
                 * added run by run, contiguous pieces the compiler vectorises */
                nruns = 0;
                for (j = 0; j < n; j++)
                    if (j == 0 || qoff[j] != qoff[j - 1] + 1) {
                        rstart[nruns] = (int)j;
                        roff[nruns++] = qoff[j];
                    }
                rstart[nruns] = (int)n;
                for (ir = 0; ir < kimg; ir += mr) {
                    const ptrdiff_t m = mg_min(mr, kimg - ir);
                    for (pc = 0; pc < O; pc += KC) {
                        const ptrdiff_t kc = mg_min(KC, O - pc);
                        if (ir == 0 || nkb > 1) {
                            /* the gy panel: dst[p*NR + j] = gy[goff[j] + (pc + p)*L] (packed
                             * once per panel when O is one block) */
                            for (p = 0; p < kc; p++) {
                                const MG_T *s = gy + (pc + p) * L;
                                MG_T *d = pb + p * nr;
                                for (j = 0; j < n; j++) d[j] = s[goff[j]];
                                for (; j < nr; j++) d[j] = (MG_T)0;
                            }
                        }
                        cfg->MG_KFIELD(kc, pa + mpad * pc + ir * kc, pb, tile_buf, nr, pc > 0);
                    }
                    /* col2im of the tile: row i is window element k = ir + i */
                    for (i = 0; i < m; i++) {
                        MG_T *g = gx + ktab[ir + i];
                        const MG_T *trow = tile_buf + i * nr;
                        for (r = 0; r < nruns; r++) {
                            MG_T *gr = g + roff[r];
                            const MG_T *tr = trow + rstart[r];
                            const ptrdiff_t len = rstart[r + 1] - rstart[r];
                            for (j = 0; j < len; j++) gr[j] += tr[j];
                        }
                    }
                }
            }
        }
    }
    free(ktab);
    return err;
}

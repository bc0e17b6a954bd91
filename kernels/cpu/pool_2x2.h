/* pool_2x2.h -- max pooling with the most common window: 2x2, stride 2, no padding.
 *
 * The general plane loop of pool.pyx (_max_plane) re-reads the running maximum through its
 * index (best = x[k]) to stay NaN-exact, a dependent load per input element; here the four
 * elements of each window are compared in registers, in the same row-major order and with the
 * same rule (only a strictly larger value, or the first NaN, replaces the maximum), so y and
 * argmax are identical to the general loop's.
 */
#ifndef MINIGRAD_POOL_2X2_H
#define MINIGRAD_POOL_2X2_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Branch-free selects: with random data a branch on "take" mispredicts half the time (a
 * ternary compiled to a branch measured slower than the general loop). The float select goes
 * through the bits: mask is all ones when take is 1. */
static inline float mg_select_f32(int take, float v, float best)
{
    uint32_t a, b, mask = (uint32_t)0 - (uint32_t)take;
    memcpy(&a, &v, sizeof a);
    memcpy(&b, &best, sizeof b);
    a = (a & mask) | (b & ~mask);
    memcpy(&v, &a, sizeof v);
    return v;
}

static inline double mg_select_f64(int take, double v, double best)
{
    uint64_t a, b, mask = (uint64_t)0 - (uint64_t)take;
    memcpy(&a, &v, sizeof a);
    memcpy(&b, &best, sizeof b);
    a = (a & mask) | (b & ~mask);
    memcpy(&v, &a, sizeof v);
    return v;
}

/* One element of the window: v replaces best (and its index) when strictly larger, or when it
 * is the first NaN. */
#define MG_POOL_STEP(SEL, v, idx)                                                              \
    do {                                                                                       \
        const int take = (v > best) | ((v != v) & (best == best));                             \
        best = SEL(take, v, best);                                                             \
        k += (int64_t)take * ((idx) - k);                                                      \
    } while (0)

/* One (H, W) plane -> (OH, OW) = (H/2, W/2) floored; argmax is the flat index h*W + w. */
#define MG_DEFINE_MAX_POOL_2X2(T, NAME, SEL)                                                   \
    static void NAME(const T *restrict x, T *restrict y, int64_t *restrict argmax,            \
                     ptrdiff_t W, ptrdiff_t OH, ptrdiff_t OW)                                  \
    {                                                                                          \
        ptrdiff_t oh, ow;                                                                      \
        for (oh = 0; oh < OH; oh++) {                                                          \
            const T *r0 = x + 2 * oh * W, *r1 = r0 + W;                                        \
            T *yo = y + oh * OW;                                                               \
            int64_t *ao = argmax + oh * OW;                                                    \
            const int64_t top = (int64_t)(2 * oh * W), bottom = top + (int64_t)W;            \
            for (ow = 0; ow < OW; ow++) {                                                      \
                T best = r0[2 * ow], v;                                                        \
                int64_t k = top + 2 * ow;                                                      \
                v = r0[2 * ow + 1];                                                            \
                MG_POOL_STEP(SEL, v, top + 2 * ow + 1);                                        \
                v = r1[2 * ow];                                                                \
                MG_POOL_STEP(SEL, v, bottom + 2 * ow);                                         \
                v = r1[2 * ow + 1];                                                            \
                MG_POOL_STEP(SEL, v, bottom + 2 * ow + 1);                                     \
                yo[ow] = best;                                                                 \
                ao[ow] = k;                                                                    \
            }                                                                                  \
        }                                                                                      \
    }

MG_DEFINE_MAX_POOL_2X2(float, mg_max_pool_2x2_f32, mg_select_f32)
MG_DEFINE_MAX_POOL_2X2(double, mg_max_pool_2x2_f64, mg_select_f64)

#endif

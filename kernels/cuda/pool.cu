// 2-D max and average pooling on NCHW planes, PyTorch semantics (see backend/reference.py):
// floor output size, padding at most half the kernel (so every window holds a real element),
// max pooling ignores padding, average pooling counts it as zeros (divides by KH*KW).
// Forward: one thread per output. Backward: one thread per input element gathering from
// every window that covers it, in a fixed order: deterministic, no atomics.

// Range of output rows [lo, hi] whose windows (start o*s - p, length k) cover input row h.
__device__ __forceinline__ void mg_covering(i64 h, i64 k, i64 s, i64 p, i64 out, i64& lo,
                                            i64& hi) {
    lo = mg_max(mg_floordiv(h + p - k, s) + 1, 0);
    hi = mg_min((h + p) / s, out - 1);
}

template <typename T>
__global__ void mg_max_pool_forward(const T* __restrict__ x, T* __restrict__ y,
                                    i64* __restrict__ argmax, i64 NC, i64 H, i64 W, i64 OH,
                                    i64 OW, i64 KH, i64 KW, i64 sh, i64 sw, i64 ph, i64 pw) {
    const i64 total = NC * OH * OW;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 ow = idx % OW, oh = (idx / OW) % OH, nc = idx / (OW * OH);
        const i64 h0 = oh * sh - ph, w0 = ow * sw - pw;
        const i64 hs = mg_max(h0, 0), he = mg_min(h0 + KH, H);
        const i64 ws = mg_max(w0, 0), we = mg_min(w0 + KW, W);
        const T* plane = x + nc * H * W;
        // The first real element in row-major window order, then the first strictly larger
        // one; a NaN wins over everything and the first NaN is kept (ties go to the first).
        i64 best_at = hs * W + ws;
        T best = plane[best_at];
        for (i64 h = hs; h < he; ++h)
            for (i64 w = ws; w < we; ++w) {
                const T v = plane[h * W + w];
                if (best == best && (v > best || v != v)) {
                    best = v;
                    best_at = h * W + w;
                }
            }
        y[idx] = best;
        argmax[idx] = best_at;
    }
}

// Sets *bad to 1 when some argmax entry does not point into its own window's real part (an
// argmax that max_pool_forward with these parameters cannot have produced).
template <typename T>
__global__ void mg_max_pool_check_argmax(const i64* __restrict__ argmax, int* __restrict__ bad,
                                         i64 NC, i64 H, i64 W, i64 OH, i64 OW, i64 KH, i64 KW,
                                         i64 sh, i64 sw, i64 ph, i64 pw) {
    const i64 total = NC * OH * OW;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 ow = idx % OW, oh = (idx / OW) % OH;
        const i64 a = argmax[idx];
        const i64 h = a >= 0 ? a / W : -1, w = a >= 0 ? a % W : -1;
        const i64 h0 = oh * sh - ph, w0 = ow * sw - pw;
        if (a < 0 || a >= H * W || h < h0 || h >= h0 + KH || w < w0 || w >= w0 + KW)
            atomicExch(bad, 1);
    }
}

template <typename T>
__global__ void mg_max_pool_backward(const T* __restrict__ gy, const i64* __restrict__ argmax,
                                     T* __restrict__ gx, i64 NC, i64 H, i64 W, i64 OH, i64 OW,
                                     i64 KH, i64 KW, i64 sh, i64 sw, i64 ph, i64 pw) {
    const i64 total = NC * H * W;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 w = idx % W, h = (idx / W) % H, nc = idx / (W * H);
        i64 oh_lo, oh_hi, ow_lo, ow_hi;
        mg_covering(h, KH, sh, ph, OH, oh_lo, oh_hi);
        mg_covering(w, KW, sw, pw, OW, ow_lo, ow_hi);
        const i64 here = h * W + w, plane = nc * OH * OW;
        T sum = T(0);
        for (i64 oh = oh_lo; oh <= oh_hi; ++oh)
            for (i64 ow = ow_lo; ow <= ow_hi; ++ow) {
                const i64 o = plane + oh * OW + ow;
                if (argmax[o] == here) sum += gy[o];
            }
        gx[idx] = sum;
    }
}

template <typename T>
__global__ void mg_avg_pool_forward(const T* __restrict__ x, T* __restrict__ y, i64 NC, i64 H,
                                    i64 W, i64 OH, i64 OW, i64 KH, i64 KW, i64 sh, i64 sw,
                                    i64 ph, i64 pw) {
    const i64 total = NC * OH * OW;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 ow = idx % OW, oh = (idx / OW) % OH, nc = idx / (OW * OH);
        const i64 h0 = oh * sh - ph, w0 = ow * sw - pw;
        const i64 hs = mg_max(h0, 0), he = mg_min(h0 + KH, H);
        const i64 ws = mg_max(w0, 0), we = mg_min(w0 + KW, W);
        const T* plane = x + nc * H * W;
        T sum = T(0);
        for (i64 h = hs; h < he; ++h)
            for (i64 w = ws; w < we; ++w) sum += plane[h * W + w];
        y[idx] = sum / T(KH * KW);
    }
}

template <typename T>
__global__ void mg_avg_pool_backward(const T* __restrict__ gy, T* __restrict__ gx, i64 NC,
                                     i64 H, i64 W, i64 OH, i64 OW, i64 KH, i64 KW, i64 sh,
                                     i64 sw, i64 ph, i64 pw) {
    const i64 total = NC * H * W;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 w = idx % W, h = (idx / W) % H, nc = idx / (W * H);
        i64 oh_lo, oh_hi, ow_lo, ow_hi;
        mg_covering(h, KH, sh, ph, OH, oh_lo, oh_hi);
        mg_covering(w, KW, sw, pw, OW, ow_lo, ow_hi);
        const T* plane = gy + nc * OH * OW;
        const T area = T(KH * KW);
        T sum = T(0);
        for (i64 oh = oh_lo; oh <= oh_hi; ++oh)
            for (i64 ow = ow_lo; ow <= ow_hi; ++ow) sum += plane[oh * OW + ow] / area;
        gx[idx] = sum;
    }
}

// im2col / col2im for conv2d = im2col + GEMM (see backend/reference.py for the layout).
// cols has shape (N, C*KH*KW, OH*OW): row (c*KH + i)*KW + j of image n holds
// x_padded[n, c, oh*sh + i, ow*sw + j] at column oh*OW + ow. Padding reads as zero.

template <typename T>
__global__ void mg_im2col(const T* __restrict__ x, T* __restrict__ cols, i64 N, i64 C, i64 H,
                          i64 W, i64 KH, i64 KW, i64 sh, i64 sw, i64 ph, i64 pw, i64 OH,
                          i64 OW) {
    // One thread per cols element, consecutive threads along a row of cols (coalesced writes).
    const i64 L = OH * OW, total = N * C * KH * KW * L;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 l = idx % L, row = idx / L;
        const i64 ow = l % OW, oh = l / OW;
        const i64 j = row % KW, i = (row / KW) % KH, nc = row / (KW * KH);
        const i64 h = oh * sh - ph + i, w = ow * sw - pw + j;
        cols[idx] = (h >= 0 && h < H && w >= 0 && w < W) ? x[(nc * H + h) * W + w] : T(0);
    }
}

// Adjoint of im2col, deterministic: one thread per input element gathers (in a fixed order)
// every cols entry that was copied from it; no atomics. Elements no window reaches get zero.
template <typename T>
__global__ void mg_col2im(const T* __restrict__ cols, T* __restrict__ gx, i64 N, i64 C, i64 H,
                          i64 W, i64 KH, i64 KW, i64 sh, i64 sw, i64 ph, i64 pw, i64 OH,
                          i64 OW) {
    const i64 L = OH * OW, total = N * C * H * W;
    MG_GRID_STRIDE_LOOP(idx, total) {
        const i64 w = idx % W, h = (idx / W) % H, nc = idx / (W * H);
        const i64 hp = h + ph, wp = w + pw;  // position in the padded input
        const T* base = cols + nc * KH * KW * L;  // rows of channel c of image n
        T sum = T(0);
        // Kernel row i covers hp from output row oh = (hp - i) / sh when that divides exactly.
        for (i64 i = hp % sh; i < KH && i <= hp; i += sh) {
            const i64 oh = (hp - i) / sh;
            if (oh >= OH) continue;
            for (i64 j = wp % sw; j < KW && j <= wp; j += sw) {
                const i64 ow = (wp - j) / sw;
                if (ow >= OW) continue;
                sum += base[(i * KW + j) * L + oh * OW + ow];
            }
        }
        gx[idx] = sum;
    }
}

// (A, B, R) -> (B, A, R): gy (N, O, L) to (O, N, L) for the whole-batch weight-gradient GEMM.
template <typename T>
__global__ void mg_swap01(const T* __restrict__ src, T* __restrict__ dst, i64 A, i64 B, i64 R) {
    const i64 total = A * B * R;
    MG_GRID_STRIDE_LOOP(idx, total) {  // idx runs over dst, so the writes are coalesced
        const i64 r = idx % R, a = (idx / R) % A, b = idx / (R * A);
        dst[idx] = src[(a * B + b) * R + r];
    }
}

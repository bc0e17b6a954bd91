// Batched GEMM: C[z] = op(A[z]) @ op(B[z]) (+ bias per row), row-major, templated on the
// element type and the tile shape. Launched by minigrad/backend/cuda.py (_gemm_launch).
//
// Tiling: a block of (BM/TM) x (BN/TN) threads computes a BM x BN tile of C. Each step stages a
// BK-deep slab of op(A) and op(B) in shared memory (k-major, so the inner product reads are
// consecutive) and every thread accumulates a TM x TN register block. A thread's rows are
// ty, ty + BM/TM, ... and its columns tx, tx + BN/TN, ...: neighbouring threads read
// neighbouring shared words (no bank conflicts) and write neighbouring columns of C.
//
// Global loads are 16-byte vectors (float4 / double2) along the operand's contiguous axis when
// the batch's base pointer is 16-byte aligned, the leading dimension is a multiple of the
// vector width and the whole vector lies inside the matrix; otherwise element by element with
// zero fill past the ragged edges.
//
// Batches: z in [0, batch) splits as (z / inner_batch, z % inner_batch), with separate outer
// and inner strides for A and B, so two broadcast batch axes (stride 0) need no copy. C's batch
// z starts at z * sc. With reduce_batch the products of all batches a block visits are summed
// into one tile, written at blockIdx.z * sc (split-K over the batch; the caller sums the
// gridDim.z partials): this is conv2d's weight gradient, sum over images of gy[n] @ cols[n]^T.
// All sizes and offsets are 64-bit; the tile and batch loops are grid-stride.

template <typename T, int BMN, int BK, int THREADS>
__device__ __forceinline__ void mg_gemm_load_tile(T (&s)[BK][BMN], const T* __restrict__ src,
                                                  i64 ld, i64 MN, i64 K, i64 mn0, i64 k0,
                                                  bool k_contiguous, bool vector_ok) {
    typedef mg_vec<T> V;
    const int VW = V::width;
    const int tid = threadIdx.x;
    if (k_contiguous) {  // element (mn, k) at src[mn * ld + k]
        for (int v = tid; v < BMN * (BK / VW); v += THREADS) {
            const int mn = v / (BK / VW), k = (v % (BK / VW)) * VW;
            const i64 gmn = mn0 + mn, gk = k0 + k;
            T vals[VW];
            if (vector_ok && gmn < MN && gk + VW <= K) {
                V::unpack(*reinterpret_cast<const typename V::type*>(src + gmn * ld + gk), vals);
            } else {
                for (int e = 0; e < VW; ++e)
                    vals[e] = (gmn < MN && gk + e < K) ? src[gmn * ld + gk + e] : T(0);
            }
            for (int e = 0; e < VW; ++e) s[k + e][mn] = vals[e];
        }
    } else {  // element (mn, k) at src[k * ld + mn]
        for (int v = tid; v < BK * (BMN / VW); v += THREADS) {
            const int k = v / (BMN / VW), mn = (v % (BMN / VW)) * VW;
            const i64 gmn = mn0 + mn, gk = k0 + k;
            T vals[VW];
            if (vector_ok && gk < K && gmn + VW <= MN) {
                V::unpack(*reinterpret_cast<const typename V::type*>(src + gk * ld + gmn), vals);
            } else {
                for (int e = 0; e < VW; ++e)
                    vals[e] = (gk < K && gmn + e < MN) ? src[gk * ld + gmn + e] : T(0);
            }
            for (int e = 0; e < VW; ++e) s[k][mn + e] = vals[e];
        }
    }
}

__device__ __forceinline__ bool mg_aligned16(const void* p) {
    return (reinterpret_cast<unsigned long long>(p) & 15ull) == 0;
}

template <typename T, int BM, int BN, int BK, int TM, int TN>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), 1)
mg_gemm(const T* __restrict__ A, const T* __restrict__ B, T* __restrict__ C,
        const T* __restrict__ bias, i64 M, i64 N, i64 K, i64 lda, i64 ldb, i64 ldc,
        i64 batch, i64 inner_batch, i64 sa_outer, i64 sa_inner, i64 sb_outer, i64 sb_inner,
        i64 sc, i64 trans_a, i64 trans_b, i64 has_bias, i64 reduce_batch) {
    const int THREADS = (BM / TM) * (BN / TN);
    const int VW = mg_vec<T>::width;
    static_assert(BK % mg_vec<T>::width == 0 && BM % mg_vec<T>::width == 0 &&
                  BN % mg_vec<T>::width == 0, "tiles must hold whole vectors");
    __shared__ T As[BK][BM];
    __shared__ T Bs[BK][BN];
    const int tx = threadIdx.x % (BN / TN), ty = threadIdx.x / (BN / TN);
    const i64 tiles_m = (M + BM - 1) / BM, tiles_n = (N + BN - 1) / BN;
    // op(A) is M x K: element (m, k) at A[m * lda + k], or A[k * lda + m] when transposed.
    // op(B) is K x N; as an (N x K) operand its element (n, k) is at B[k * ldb + n], or
    // B[n * ldb + k] when transposed.
    const bool a_k_contiguous = !trans_a, b_k_contiguous = trans_b;

    for (i64 tm = blockIdx.y; tm < tiles_m; tm += gridDim.y) {
        for (i64 tn = blockIdx.x; tn < tiles_n; tn += gridDim.x) {
            T acc[TM][TN];
            for (int i = 0; i < TM; ++i)
                for (int j = 0; j < TN; ++j) acc[i][j] = T(0);
            for (i64 z = blockIdx.z; z < batch; z += gridDim.z) {
                const T* Az = A + (z / inner_batch) * sa_outer + (z % inner_batch) * sa_inner;
                const T* Bz = B + (z / inner_batch) * sb_outer + (z % inner_batch) * sb_inner;
                const bool a_vec = mg_aligned16(Az) && lda % VW == 0;
                const bool b_vec = mg_aligned16(Bz) && ldb % VW == 0;
                for (i64 k0 = 0; k0 < K; k0 += BK) {
                    mg_gemm_load_tile<T, BM, BK, THREADS>(As, Az, lda, M, K, tm * BM, k0,
                                                          a_k_contiguous, a_vec);
                    mg_gemm_load_tile<T, BN, BK, THREADS>(Bs, Bz, ldb, N, K, tn * BN, k0,
                                                          b_k_contiguous, b_vec);
                    __syncthreads();
#pragma unroll
                    for (int k = 0; k < BK; ++k) {
                        T a[TM], b[TN];
#pragma unroll
                        for (int i = 0; i < TM; ++i) a[i] = As[k][ty + i * (BM / TM)];
#pragma unroll
                        for (int j = 0; j < TN; ++j) b[j] = Bs[k][tx + j * (BN / TN)];
#pragma unroll
                        for (int i = 0; i < TM; ++i)
#pragma unroll
                            for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
                    }
                    __syncthreads();
                }
                if (!reduce_batch || z + gridDim.z >= batch) {
                    T* Cz = C + (reduce_batch ? (i64)blockIdx.z : z) * sc;
                    for (int i = 0; i < TM; ++i) {
                        const i64 m = tm * BM + ty + i * (BM / TM);
                        if (m >= M) continue;
                        const T row_bias = has_bias ? bias[m] : T(0);
                        for (int j = 0; j < TN; ++j) {
                            const i64 n = tn * BN + tx + j * (BN / TN);
                            if (n < N) Cz[m * ldc + n] = acc[i][j] + row_bias;
                        }
                    }
                    if (!reduce_batch)
                        for (int i = 0; i < TM; ++i)
                            for (int j = 0; j < TN; ++j) acc[i][j] = T(0);
                }
            }
        }
    }
}

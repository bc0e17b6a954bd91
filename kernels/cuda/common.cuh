// Helpers shared by every minigrad CUDA kernel file. Prepended to each .cu by
// minigrad/backend/cuda.py (NVRTC has no include path of ours) and included by the host
// emulation build (kernels/cuda/emulation.h defines the CUDA built-ins there).
// Only what both NVRTC and g++ accept: no std headers, no warp intrinsics.

typedef long long i64;

// Grid-stride loop over [0, n) with a 64-bit index (sizes over 2^31 elements stay correct).
#define MG_GRID_STRIDE_LOOP(i, n)                                                   \
    for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < (n);              \
         i += (i64)gridDim.x * blockDim.x)

__device__ __forceinline__ i64 mg_min(i64 a, i64 b) { return a < b ? a : b; }
__device__ __forceinline__ i64 mg_max(i64 a, i64 b) { return a > b ? a : b; }

// Floor division for a possibly negative numerator and a positive denominator.
__device__ __forceinline__ i64 mg_floordiv(i64 a, i64 b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// 16-byte vector type of T: float4 for float, double2 for double (vectorised global loads).
template <typename T> struct mg_vec;
template <> struct mg_vec<float> {
    typedef float4 type;
    static const int width = 4;
    __device__ __forceinline__ static void unpack(const float4& v, float* out) {
        out[0] = v.x; out[1] = v.y; out[2] = v.z; out[3] = v.w;
    }
};
template <> struct mg_vec<double> {
    typedef double2 type;
    static const int width = 2;
    __device__ __forceinline__ static void unpack(const double2& v, double* out) {
        out[0] = v.x; out[1] = v.y;
    }
};

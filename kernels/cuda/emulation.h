// Host emulation of the CUDA subset that minigrad's kernels use, so that the very same .cu
// files compile with g++ (C++20) and run on the CPU (minigrad/backend/cuda_emulation.py).
//
//   __global__/__device__/...   -> nothing
//   threadIdx/blockIdx/...      -> thread_local variables set by the launcher
//   __shared__                  -> `static`: one storage per kernel instantiation, shared by the
//                                  threads of the block; blocks of a launch run one after the
//                                  other and launches are serialised, so no two blocks share it
//   __syncthreads()             -> std::barrier across the block's blockDim real threads
//   atomicAdd/atomicMax/...     -> std::atomic_ref
// Anything else a kernel uses fails to compile here: warp intrinsics (__shfl_*), __ldg, etc.
// need an emulation of their own before a kernel may use them.
#pragma once
#include <atomic>
#include <barrier>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __restrict__ __restrict

struct uint3 { unsigned int x, y, z; };
struct dim3 {
    unsigned int x, y, z;
    dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(16) double2 { double x, y; };

inline thread_local uint3 threadIdx;
inline thread_local uint3 blockIdx;
inline thread_local dim3 blockDim;
inline thread_local dim3 gridDim;

namespace mg_emu {
inline thread_local std::barrier<>* block_barrier = nullptr;
}

inline void __syncthreads() { mg_emu::block_barrier->arrive_and_wait(); }

template <typename T> inline T atomicAdd(T* address, T value) {
    return std::atomic_ref<T>(*address).fetch_add(value);
}
template <typename T> inline T atomicMax(T* address, T value) {
    std::atomic_ref<T> ref(*address);
    T old = ref.load();
    while (old < value && !ref.compare_exchange_weak(old, value)) {}
    return old;
}
template <typename T> inline T atomicExch(T* address, T value) {
    return std::atomic_ref<T>(*address).exchange(value);
}

namespace mg_emu {

// Type codes of kernel parameters, checked by the Python runner against the arguments it is
// about to pass (CuPy checks nothing: a wrong scalar type is silent garbage on the GPU).
template <typename T> constexpr const char* code() {
    if constexpr (std::is_same_v<T, float>) return "f";
    else if constexpr (std::is_same_v<T, double>) return "d";
    else if constexpr (std::is_same_v<T, long long>) return "q";
    else if constexpr (std::is_same_v<T, int>) return "i";
    else if constexpr (std::is_same_v<T, unsigned int>) return "I";
    else if constexpr (std::is_same_v<T, bool>) return "?";
    else static_assert(sizeof(T) == 0, "kernel parameter type without an emulation code");
}
template <typename P> std::string param_code() {
    using U = std::remove_cv_t<P>;
    if constexpr (std::is_pointer_v<U>) {  // "C" = pointer to const (an input), "P" = output
        using E = std::remove_pointer_t<U>;
        return std::string(std::is_const_v<E> ? "C" : "P") + code<std::remove_cv_t<E>>();
    }
    else return code<U>();
}
template <typename... P> std::string signature(void (*)(P...)) {
    std::string s;
    ((s += param_code<P>(), s += ","), ...);
    if (!s.empty()) s.pop_back();
    return s;
}

// Unpack CuPy-style arguments: args[i] points at the i-th parameter's value.
template <typename... P, std::size_t... I>
void invoke(void (*kernel)(P...), void** args, std::index_sequence<I...>) {
    kernel(*static_cast<std::remove_cv_t<P>*>(args[I])...);
}

inline std::mutex launch_mutex;  // __shared__ is static: one launch at a time

// Run the grid block by block; the block's threads are real std::threads, created once per
// launch and reused for every block, with one barrier (which is also __syncthreads).
template <typename... P>
void launch(void (*kernel)(P...), const unsigned int* dims, void** args) {
    std::lock_guard<std::mutex> guard(launch_mutex);
    const dim3 grid(dims[0], dims[1], dims[2]), block(dims[3], dims[4], dims[5]);
    const unsigned int nthreads = block.x * block.y * block.z;
    std::barrier<> barrier(nthreads);
    std::vector<std::thread> pool;
    pool.reserve(nthreads);
    for (unsigned int t = 0; t < nthreads; ++t) {
        pool.emplace_back([&, t] {
            threadIdx = uint3{t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            blockDim = block;
            gridDim = grid;
            block_barrier = &barrier;
            for (unsigned int z = 0; z < grid.z; ++z)
                for (unsigned int y = 0; y < grid.y; ++y)
                    for (unsigned int x = 0; x < grid.x; ++x) {
                        blockIdx = uint3{x, y, z};
                        invoke(kernel, args, std::index_sequence_for<P...>{});
                        barrier.arrive_and_wait();  // the block ends: shared storage is reused
                    }
        });
    }
    for (auto& thread : pool) thread.join();
}

struct Entry {
    const char* name;
    void (*launch)(const unsigned int* dims, void** args);
    std::string (*signature)();
};

template <auto Kernel> void launch_thunk(const unsigned int* dims, void** args) {
    launch(Kernel, dims, args);
}
template <auto Kernel> std::string signature_thunk() { return signature(Kernel); }

}  // namespace mg_emu

#define MG_EMU_ENTRY(NAME, ...) \
    mg_emu::Entry{NAME, &mg_emu::launch_thunk<&__VA_ARGS__>, &mg_emu::signature_thunk<&__VA_ARGS__>}

// The generated registry (minigrad/backend/cuda_emulation.py) defines `mg_emu_entries` with
// MG_EMU_ENTRY and then includes this C interface.
#define MG_EMU_DEFINE_C_API                                                                   \
    extern "C" int mg_emu_count() {                                                           \
        return (int)(sizeof(mg_emu_entries) / sizeof(mg_emu_entries[0]));                     \
    }                                                                                         \
    extern "C" const char* mg_emu_name(int i) { return mg_emu_entries[i].name; }              \
    extern "C" int mg_emu_signature(int i, char* out, int size) {                             \
        std::string s = mg_emu_entries[i].signature();                                        \
        if ((int)s.size() + 1 > size) return -1;                                              \
        std::memcpy(out, s.c_str(), s.size() + 1);                                            \
        return (int)s.size();                                                                 \
    }                                                                                         \
    extern "C" void mg_emu_launch(int i, const unsigned int* dims, void** args) {             \
        mg_emu_entries[i].launch(dims, args);                                                 \
    }

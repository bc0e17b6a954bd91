// Host emulation of the CUDA subset that minigrad's kernels use, so that the very same .cu
// files compile with g++ (C++20) and run on the CPU (minigrad/backend/cuda_runners.py).
//
//   __global__/__device__/...   -> nothing
//   threadIdx/blockIdx/...      -> variables the launcher sets before it resumes a thread
//   __shared__                  -> `static`: one storage per kernel instantiation, shared by the
//                                  threads of the block; blocks of a launch run one after the
//                                  other and launches are serialised, so no two blocks share it
//   CUDA threads                -> fibers (ucontext): each thread of a block has its own stack
//                                  and runs on the launching OS thread until it reaches
//                                  __syncthreads() or returns; then the next one runs
//   __syncthreads()             -> switch back to the block's scheduler, which resumes every
//                                  thread once all of them have arrived
//   atomicAdd/atomicMax/...     -> std::atomic_ref
// Fibers instead of one OS thread per CUDA thread: a launch of 256-thread blocks used to start
// 256 threads and spin them on a std::barrier, which on a 2-core machine made the emulated
// suite the largest part of CI. Fibers cost a context switch per thread and barrier.
//
// Races: between two barriers the threads run one after the other, in ascending threadIdx
// order in one phase and descending in the next (alternating across blocks too). A thread that
// reads shared memory another thread writes in the same phase (a missing __syncthreads) then
// reads stale data in one of the two orders, so the error shows as a wrong result. A
// __syncthreads() that only some threads of the block reach (undefined on a GPU) is reported.
// Anything else a kernel uses fails to compile here: warp intrinsics (__shfl_*), __ldg, etc.
// need an emulation of their own before a kernel may use them.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

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
inline thread_local ucontext_t scheduler_context;     // the block's scheduler
inline thread_local ucontext_t* running = nullptr;    // the context of the thread running now
}

// Back to the scheduler; it resumes this thread when every thread of the block has arrived.
inline void __syncthreads() { swapcontext(mg_emu::running, &mg_emu::scheduler_context); }

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
inline thread_local std::string launch_error;  // why the last launch failed, or empty

// The stacks of a block's threads, with a guard page below each, so that an overflowing
// thread faults instead of overwriting its neighbour. Kept between launches.
class Stacks {
  public:
    static constexpr std::size_t kStack = 256 * 1024;
    ~Stacks() { release(); }
    char* base(unsigned int t) { return memory_ + t * (kStack + page_) + page_; }
    bool reserve(unsigned int n) {
        if (n <= count_) return true;
        release();
        page_ = (std::size_t)sysconf(_SC_PAGESIZE);
        const std::size_t bytes = n * (kStack + page_);
        void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return false;
        memory_ = static_cast<char*>(p);
        count_ = n;
        for (unsigned int t = 0; t < n; ++t) mprotect(base(t) - page_, page_, PROT_NONE);
        return true;
    }
  private:
    void release() {
        if (memory_) munmap(memory_, count_ * (kStack + page_));
        memory_ = nullptr;
        count_ = 0;
    }
    char* memory_ = nullptr;
    unsigned int count_ = 0;
    std::size_t page_ = 4096;
};
inline Stacks stacks;

struct Fiber {
    ucontext_t context;
    bool finished;
};
inline thread_local void (*block_body)(void**) = nullptr;  // the kernel of this launch
inline thread_local void** block_args = nullptr;
inline thread_local Fiber* running_fiber = nullptr;

inline void fiber_main() {
    block_body(block_args);
    running_fiber->finished = true;  // returning resumes uc_link, the scheduler
}

template <typename... P> void call(void (*kernel)(P...), void** args) {
    invoke(kernel, args, std::index_sequence_for<P...>{});
}
template <auto Kernel> void kernel_body(void** args) { call(Kernel, args); }

// Run the grid block by block and each block phase by phase (a phase ends at a barrier).
// Returns 0, or -1 with launch_error set.
template <auto Kernel>
int launch(const unsigned int* dims, void** args) {
    std::lock_guard<std::mutex> guard(launch_mutex);
    launch_error.clear();
    const dim3 grid(dims[0], dims[1], dims[2]), block(dims[3], dims[4], dims[5]);
    const unsigned int nthreads = block.x * block.y * block.z;
    if (!stacks.reserve(nthreads)) {
        launch_error = "could not allocate the stacks of " + std::to_string(nthreads) + " threads";
        return -1;
    }
    std::vector<Fiber> fibers(nthreads);
    blockDim = block;
    gridDim = grid;
    block_body = &kernel_body<Kernel>;
    block_args = args;
    unsigned long long block_number = 0;
    for (unsigned int z = 0; z < grid.z; ++z)
        for (unsigned int y = 0; y < grid.y; ++y)
            for (unsigned int x = 0; x < grid.x; ++x, ++block_number) {
                blockIdx = uint3{x, y, z};
                for (unsigned int t = 0; t < nthreads; ++t) {
                    Fiber& f = fibers[t];
                    getcontext(&f.context);
                    f.context.uc_stack.ss_sp = stacks.base(t);
                    f.context.uc_stack.ss_size = Stacks::kStack;
                    f.context.uc_link = &scheduler_context;
                    makecontext(&f.context, fiber_main, 0);
                    f.finished = false;
                }
                for (unsigned long long phase = 0;; ++phase) {
                    const bool descending = (block_number + phase) % 2 == 1;
                    unsigned int finished = 0;
                    for (unsigned int i = 0; i < nthreads; ++i) {
                        const unsigned int t = descending ? nthreads - 1 - i : i;
                        threadIdx = uint3{t % block.x, (t / block.x) % block.y,
                                          t / (block.x * block.y)};
                        running_fiber = &fibers[t];
                        running = &fibers[t].context;
                        swapcontext(&scheduler_context, running);
                        finished += fibers[t].finished;
                    }
                    if (finished == nthreads) break;
                    if (finished != 0) {
                        launch_error = "__syncthreads() reached by " +
                                       std::to_string(nthreads - finished) + " of the " +
                                       std::to_string(nthreads) +
                                       " threads of block (" + std::to_string(x) + ", " +
                                       std::to_string(y) + ", " + std::to_string(z) +
                                       "): the others had returned (undefined on a GPU)";
                        return -1;
                    }
                }
            }
    return 0;
}

struct Entry {
    const char* name;
    int (*launch)(const unsigned int* dims, void** args);
    std::string (*signature)();
};

template <auto Kernel> std::string signature_thunk() { return signature(Kernel); }

}  // namespace mg_emu

#define MG_EMU_ENTRY(NAME, ...) \
    mg_emu::Entry{NAME, &mg_emu::launch<&__VA_ARGS__>, &mg_emu::signature_thunk<&__VA_ARGS__>}

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
    extern "C" int mg_emu_launch(int i, const unsigned int* dims, void** args) {              \
        return mg_emu_entries[i].launch(dims, args);                                          \
    }                                                                                         \
    extern "C" const char* mg_emu_error() { return mg_emu::launch_error.c_str(); }

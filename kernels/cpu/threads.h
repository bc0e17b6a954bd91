/* How many OpenMP threads a kernel's parallel loop should use.
 *
 * A parallel region costs microseconds to start and, on a busy 2-core machine, can stall for
 * milliseconds waiting for the second core; small problems (gradcheck's tiny tensors, a
 * batch of 1) therefore run on one thread. `work` is the number of elements the loop
 * touches. Built without OpenMP, everything is serial and this returns 1.
 */
#ifndef MINIGRAD_THREADS_H
#define MINIGRAD_THREADS_H

#define MG_SERIAL_BELOW 65536LL

#ifdef _OPENMP
#include <omp.h>
static inline int mg_threads_for(long long work) {
    return work < MG_SERIAL_BELOW ? 1 : omp_get_max_threads();
}
#else
static inline int mg_threads_for(long long work) {
    (void)work;
    return 1;
}
#endif

#endif

# Thread control for one compiled kernel module (included by each .pyx; see threads.h).
# minigrad/threads.py (mg.set_num_threads / mg.get_num_threads) drives these in every module.

cdef extern from "threads.h" nogil:
    int mg_threads_for(long long work)
    int mg_num_threads()
    int mg_num_threads_now()
    int mg_busy_threads(int n, int ncpu, double others)
    void mg_set_num_threads(int n)
    int mg_have_openmp()
    int mg_thread_num()
    int mg_team_size()
    void mg_note_team()
    int mg_last_team_size


def set_num_threads(int n):
    """Threads a large parallel loop of this module asks for (0: OpenMP's default)."""
    mg_set_num_threads(n)


def get_num_threads():
    """Threads a large parallel loop of this module asks for (1 when built without OpenMP)."""
    return mg_num_threads()


def has_openmp():
    """Whether this module was built with OpenMP."""
    return bool(mg_have_openmp())


def last_team_size():
    """Threads the last parallel region of this module really ran with (1: it ran serially).
    A diagnostic for tests: OpenMP may grant fewer threads than were asked for."""
    return mg_last_team_size


def threads_now():
    """Threads a large parallel loop of this module would ask for now: get_num_threads(), less
    the cores other processes are busy with when the setting is OpenMP's default (threads.h)."""
    return mg_num_threads_now()


def busy_threads(n, ncpu, others):
    """The busy-machine rule of threads.h: threads out of n to use when other processes keep
    `others` of the `ncpu` CPUs busy (n, ncpu: ints >= 1; others: a finite number)."""
    import math
    for name, value in (("n", n), ("ncpu", ncpu)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"busy_threads: {name} must be an int, got {value!r}")
        if not 1 <= value <= 2**31 - 1:  # a C int
            raise ValueError(f"busy_threads: {name} must be in [1, 2**31 - 1], got {value}")
    if isinstance(others, bool) or not isinstance(others, (int, float)):
        raise TypeError(f"busy_threads: others must be a number, got {others!r}")
    if not math.isfinite(others):
        raise ValueError(f"busy_threads: others must be finite, got {others}")
    return mg_busy_threads(n, ncpu, others)

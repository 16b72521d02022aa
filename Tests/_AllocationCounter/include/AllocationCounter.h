#ifndef RESNET_BENCH_ALLOCATION_COUNTER_H
#define RESNET_BENCH_ALLOCATION_COUNTER_H

/// Counts heap allocations (malloc, calloc, realloc, posix_memalign,
/// aligned_alloc, memalign) made by any thread while counting is on. Linked
/// into the test executable only; see README.md in this folder.
/// Returns 0 when the counter is not installed (sanitizer builds, which bring
/// their own allocator), 1 otherwise.
int resnet_bench_allocation_counter_installed(void);
void resnet_bench_allocation_counter_start(void);
/// Stops counting and returns the allocations since the last start.
long resnet_bench_allocation_counter_stop(void);

#endif

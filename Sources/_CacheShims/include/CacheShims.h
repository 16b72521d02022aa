#ifndef RESNET_BENCH_CACHE_SHIMS_H
#define RESNET_BENCH_CACHE_SHIMS_H

/// Cache-control instructions Swift has no spelling for. Every function is
/// `static inline`, so the Swift compiler imports and inlines it: a call costs
/// the one instruction, not a call.

/// Asks for the cache line holding `address` to be brought towards the core
/// (x86 `prefetcht1`: into L2 and outward). Never faults, whatever the address.
static inline void resnet_bench_prefetch(const void *address) {
  __builtin_prefetch(address, 0, 2);
}

/// The same into L1 as well (x86 `prefetcht0`), for data needed within a few
/// hundred cycles.
static inline void resnet_bench_prefetch_l1(const void *address) {
  __builtin_prefetch(address, 0, 3);
}

/// The same for a line about to be written (x86 `prefetchw`).
static inline void resnet_bench_prefetch_for_write(const void *address) {
  __builtin_prefetch(address, 1, 2);
}

/// Writes back and evicts the cache line holding `address` from every level
/// (x86 `clflush`). `address` must be mapped.
static inline void resnet_bench_flush_line(const void *address) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_clflush(address);
#else
  (void)address;
#endif
}

/// Orders every earlier flush before every later load and store (x86 `mfence`).
static inline void resnet_bench_memory_fence(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_mfence();
#else
  __sync_synchronize();
#endif
}

#endif

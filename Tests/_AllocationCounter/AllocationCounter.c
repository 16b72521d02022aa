// A counting front for glibc's allocator: the test executable defines the
// allocation functions, so every library in the process (the Swift runtime,
// Foundation, OpenBLAS, BLIS) calls these, which count and forward to
// glibc's own entry points (__libc_malloc and friends, exported for exactly
// this purpose). Counting is off unless a test turns it on.
#include "AllocationCounter.h"
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define RESNET_BENCH_NO_COUNTER 1
#endif
#endif

#if defined(__linux__) && !defined(RESNET_BENCH_NO_COUNTER)

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static atomic_int counting;
static atomic_long allocations;

static inline void count(void) {
  if (atomic_load_explicit(&counting, memory_order_relaxed)) atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed);
}

void *malloc(size_t size) { count(); return __libc_malloc(size); }
void *calloc(size_t n, size_t size) { count(); return __libc_calloc(n, size); }
void *realloc(void *p, size_t size) { count(); return __libc_realloc(p, size); }
void free(void *p) { __libc_free(p); }
void *memalign(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
void *aligned_alloc(size_t alignment, size_t size) { count(); return __libc_memalign(alignment, size); }
int posix_memalign(void **out, size_t alignment, size_t size) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
  count();
  void *p = __libc_memalign(alignment, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

int resnet_bench_allocation_counter_installed(void) { return 1; }
void resnet_bench_allocation_counter_start(void) {
  atomic_store(&allocations, 0);
  atomic_store(&counting, 1);
}
long resnet_bench_allocation_counter_stop(void) {
  atomic_store(&counting, 0);
  return atomic_load(&allocations);
}

#else

int resnet_bench_allocation_counter_installed(void) { return 0; }
void resnet_bench_allocation_counter_start(void) {}
long resnet_bench_allocation_counter_stop(void) { return 0; }

#endif

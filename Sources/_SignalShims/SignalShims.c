// The signal side of AtomicFile: a handler may only call async-signal-safe
// functions (unlink, sigaction, raise are), and may only read memory that no
// allocation can move, so the pending path lives in a static buffer here.
#include "SignalShims.h"
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static char pending[4096];
static atomic_int has_pending;
static atomic_int installed;
static const int signals[] = {SIGINT, SIGTERM, SIGHUP};

static void on_signal(int sig) {
  if (atomic_load(&has_pending)) unlink(pending);
  // End the way the signal would have: default action, then raise it again.
  struct sigaction fallback;
  memset(&fallback, 0, sizeof fallback);
  fallback.sa_handler = SIG_DFL;
  sigaction(sig, &fallback, NULL);
  raise(sig);
}

int resnet_bench_pending_file_set(const char *path) {
  size_t n = strlen(path);
  if (n >= sizeof pending) return -1;
  atomic_store(&has_pending, 0);
  memcpy(pending, path, n + 1);
  atomic_store(&has_pending, 1);
  if (!atomic_exchange(&installed, 1)) {
    for (size_t i = 0; i < sizeof signals / sizeof signals[0]; i++) {
      struct sigaction previous, handler;
      // A signal the process was told to ignore stays ignored.
      if (sigaction(signals[i], NULL, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
      memset(&handler, 0, sizeof handler);
      handler.sa_handler = on_signal;
      sigemptyset(&handler.sa_mask);
      sigaction(signals[i], &handler, NULL);
    }
  }
  return 0;
}

void resnet_bench_pending_file_clear(void) { atomic_store(&has_pending, 0); }

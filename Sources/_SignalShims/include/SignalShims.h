#ifndef RESNET_BENCH_SIGNAL_SHIMS_H
#define RESNET_BENCH_SIGNAL_SHIMS_H

/// Names the temporary file an atomic write is filling (at most one at a
/// time per process), so that SIGINT, SIGTERM or SIGHUP arriving before its
/// rename removes it before the process ends. The first call installs the
/// handlers. Returns 0, or -1 when the path does not fit the buffer.
int resnet_bench_pending_file_set(const char *path);
/// The temporary was renamed or removed: nothing to clean up.
void resnet_bench_pending_file_clear(void);

#endif

#ifndef RESNET_BENCH_LOADER_SHIMS_H
#define RESNET_BENCH_LOADER_SHIMS_H

/// The path of the shared object that contains `address`, or NULL.
/// (dladdr needs _GNU_SOURCE, which Swift's Glibc module does not define.)
const char *resnet_bench_object_path(const void *address);

#endif

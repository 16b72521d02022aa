#define _GNU_SOURCE
#include <dlfcn.h>
#include "LoaderShims.h"

const char *resnet_bench_object_path(const void *address) {
  Dl_info info;
  if (dladdr(address, &info) == 0) return 0;
  return info.dli_fname;
}

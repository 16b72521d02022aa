// The functions are static inline in the header; this file gives the target a
// source file, as SwiftPM requires of a C target.
#include "CacheShims.h"

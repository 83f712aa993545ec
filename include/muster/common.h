/* Definitions every muster header needs: the export macro and the version. */
#ifndef MUSTER_COMMON_H
#define MUSTER_COMMON_H

#if defined(MUSTER_BUILDING)
#define MUSTER_EXTERN __attribute__((visibility("default")))
#else
#define MUSTER_EXTERN
#endif

#define MUSTER_VERSION_MAJOR 0
#define MUSTER_VERSION_MINOR 1
#define MUSTER_VERSION_PATCH 0
#define MUSTER_VERSION_STRING "0.1.0"

#endif

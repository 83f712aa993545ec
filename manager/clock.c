#include "clock.h"

#include <stddef.h>
#include <sys/time.h>

uint64_t clock_wall_ms(void) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  return (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
}

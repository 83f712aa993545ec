/* Wall-clock milliseconds since the epoch (PM2's pm_uptime, created_at). */
#ifndef MANAGER_CLOCK_H
#define MANAGER_CLOCK_H

#include <stdint.h>

uint64_t clock_wall_ms(void);

#endif

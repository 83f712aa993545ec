/* Reaping for the whole daemon process: the one place that waits for
 * children it did not spawn (see reaper.c). */
#ifndef MANAGER_REAPER_H
#define MANAGER_REAPER_H

#include <uv.h>

typedef struct registry_s registry_t;

/* Watches SIGCHLD and reaps every exited child that the registry does not
 * own (registry_owns_pid): orphans adopted as the child subreaper. */
int reaper_start(uv_loop_t *loop, registry_t *registry);
/* Reaps now what can be reaped (after an app's main process exited, its
 * group's orphans may be zombies waiting). */
void reaper_sweep(void);
void reaper_close(void);

#endif

/* Helpers shared by the cluster tests (tests/test-cluster*.c). */
#ifndef MUSTER_TEST_CLUSTER_H
#define MUSTER_TEST_CLUSTER_H

#include "test.h"

#include <pthread.h>

/* One request: connects to addr:port (or the Unix path when port < 0),
 * sends `line`, reads the answer (a pid and '\n'). Returns the pid, or a
 * negative errno. With hold_fd != NULL the connection is left open and its
 * fd stored there. */
int tc_request(const char *addr, int port, const char *line, int *hold_fd);
/* An HTTP/1.0 GET whose body is a pid: returns it, or a negative errno. */
int tc_http_request(const char *addr, int port);
/* One UDP datagram and its answer (the pid), or a negative errno. */
int tc_udp_request(const char *addr, int port);

/* A client thread making `n` sequential requests (pids recorded), then
 * waking the loop through `done` (which the test initialised). */
typedef struct {
  const char *addr;
  int port;
  int n;    /* requests to make; 0: until stop is set */
  int http; /* HTTP requests (a Node worker) */
  _Atomic int stop; /* set by the main thread, read by the client thread */
  int pids[4096];
  int made; /* requests made; with n == 0 pids[] is a ring */
  int failures;
  int last_err;
  int finished; /* set (atomically) just before `done` is sent */
  uv_async_t *done;
  pthread_t thread;
} tc_client_t;
void tc_client_start(tc_client_t *c);
void tc_client_join(tc_client_t *c);
/* How many of the client's answers came from `pid`. */
int tc_count(const tc_client_t *c, int pid);

/* 1 while process `pid` exists and is not a zombie. */
int tc_alive(int pid);

#endif

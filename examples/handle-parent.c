/* handle-parent: Node docs' "sending a server object" example, in C.
 *
 *   const server = require('net').createServer();
 *   server.on('connection', (socket) => socket.end('handled by parent'));
 *   server.listen(1337, () => { child.send('server', server); });
 *
 * The parent listens, sends the listening socket to two children
 * (handle-child, next to this program) and keeps serving too. A client
 * thread then makes requests: they are answered by the parent and by the
 * different children. Then the parent closes its own copy of the socket
 * and makes the same number of requests again: the children serve them
 * all. It checks both, prints a summary, disconnects the children (which
 * then exit) and exits 0 when all went as described.
 *
 * Usage: handle-parent [--port N] [--requests N]
 *   --port N      port on 127.0.0.1 (default $PORT, or 1337; 0: any)
 *   --requests N  requests per phase (default 20) */
#include <muster.h>

#include <arpa/inet.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHILDREN 2
#define BATCH 4 /* concurrent requests, so busy children share the work */

static uv_loop_t loop;
static int listen_fd = -1, port, requests = 20;
static uv_poll_t server_poll;
static uv_async_t phase_async;
static uv_sem_t closed_sem;
static uv_thread_t client;
static int phase; /* 1: everyone serves; 2: children only; 3: done */
static muster_child_t *children[CHILDREN];
static muster_channel_t *channels[CHILDREN];
static int ready, failed;
/* Responses per phase: by the parent, and by each child (by pid). */
static int by_parent[3], by_child[3][CHILDREN], unknown[3];

static void on_connection(uv_poll_t *p, int status, int events) {
  int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
  if (c < 0)
    return; /* a child took it first */
  const char reply[] = "handled by parent\n";
  if (write(c, reply, sizeof reply - 1) < 0)
    perror("write");
  close(c);
}

static void count(int ph, const char *reply) {
  int pid;
  if (strcmp(reply, "handled by parent\n") == 0) {
    by_parent[ph]++;
    return;
  }
  if (sscanf(reply, "handled by child %d", &pid) == 1)
    for (int i = 0; i < CHILDREN; i++)
      if (muster_child_pid(children[i]) == pid) {
        by_child[ph][i]++;
        return;
      }
  unknown[ph]++;
}

/* One request: connect, read the one-line answer until end of file. */
static int request(int *fds, int n, int ph) {
  for (int i = 0; i < n; i++) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    fds[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fds[i], (struct sockaddr *)&a, sizeof a) != 0)
      return -1;
  }
  for (int i = 0; i < n; i++) {
    char buf[128];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 &&
           (r = read(fds[i], buf + len, sizeof buf - 1 - len)) > 0)
      len += (size_t)r;
    buf[len] = '\0';
    close(fds[i]);
    count(ph, buf);
  }
  return 0;
}

static void client_thread(void *arg) {
  for (int ph = 1; ph <= 2; ph++) {
    for (int done = 0; done < requests; done += BATCH) {
      int fds[BATCH];
      int n = requests - done < BATCH ? requests - done : BATCH;
      if (request(fds, n, ph) != 0) {
        perror("request");
        failed = 1;
        break;
      }
    }
    uv_async_send(&phase_async); /* phase ph is over */
    if (ph == 1)
      uv_sem_wait(&closed_sem); /* until the parent closed its copy */
  }
}

static void server_poll_closed(uv_handle_t *h) {
  close(listen_fd); /* the children's copies keep listening */
  listen_fd = -1;
  printf("parent closed its copy of the server\n");
  fflush(stdout);
  uv_sem_post(&closed_sem);
}

static void report(void) {
  for (int ph = 1; ph <= 2; ph++) {
    printf("phase %d:", ph);
    if (ph == 1)
      printf(" parent %d,", by_parent[ph]);
    for (int i = 0; i < CHILDREN; i++)
      printf(" child %d: %d,", muster_child_pid(children[i]), by_child[ph][i]);
    printf(" unknown %d\n", unknown[ph]);
  }
  int children_used = 0;
  for (int i = 0; i < CHILDREN; i++)
    children_used += by_child[1][i] + by_child[2][i] > 0;
  if (by_parent[2] > 0 || unknown[1] + unknown[2] > 0 || children_used < 2)
    failed = 1;
  if (failed)
    printf("FAILED: expected answers from %d different children, and none "
           "from the parent after it closed its copy\n",
           CHILDREN);
  else
    printf("ok: requests answered by %d different children; after the "
           "parent closed its copy, the children served all %d\n",
           children_used, requests);
  fflush(stdout);
}

static void on_phase(uv_async_t *a) {
  phase++;
  if (phase == 2) {
    uv_close((uv_handle_t *)&server_poll, server_poll_closed);
    return;
  }
  uv_thread_join(&client);
  report();
  uv_close((uv_handle_t *)&phase_async, NULL);
  for (int i = 0; i < CHILDREN; i++)
    muster_channel_disconnect(channels[i]); /* the children exit */
}

static void on_message(muster_channel_t *ch, muster_message_t *m) {
  json_t *j = muster_message_json(m);
  if (json_is_true(json_object_get(j, "ready")) && ++ready == CHILDREN) {
    phase = 1;
    uv_thread_create(&client, client_thread, NULL);
  }
}

static void on_disconnect(muster_channel_t *ch, int reason) {
  muster_channel_close(ch, NULL);
}

static void on_exit_cb(muster_child_t *c, int64_t status, int sig) {
  if (status != 0 || sig != 0)
    failed = 1;
}

static void on_close(muster_child_t *c) {
  muster_child_close(c, NULL);
}

static int listen_on(int p) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)p);
  socklen_t sl = sizeof a;
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 128) != 0 ||
      getsockname(s, (struct sockaddr *)&a, &sl) != 0) {
    perror("listen");
    exit(1);
  }
  port = ntohs(a.sin_port);
  return s;
}

int main(int argc, char **argv) {
  int p = getenv("PORT") ? atoi(getenv("PORT")) : 1337;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--port") == 0)
      p = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--requests") == 0)
      requests = atoi(argv[i + 1]);
  }
  char self[PATH_MAX], worker[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n < 0)
    return 1;
  self[n] = '\0';
  snprintf(worker, sizeof worker, "%s/handle-child", dirname(self));

  uv_loop_init(&loop);
  uv_sem_init(&closed_sem, 0);
  uv_async_init(&loop, &phase_async, on_phase);
  listen_fd = listen_on(p);
  printf("parent %d listening on 127.0.0.1:%d\n", (int)getpid(), port);
  fflush(stdout);
  uv_poll_init(&loop, &server_poll, listen_fd);
  uv_poll_start(&server_poll, UV_READABLE, on_connection);

  for (int i = 0; i < CHILDREN; i++) {
    muster_fork_options_t o;
    memset(&o, 0, sizeof o);
    o.spawn.on_exit = on_exit_cb;
    o.spawn.on_close = on_close;
    o.channel.on_message = on_message;
    o.channel.on_disconnect = on_disconnect;
    const char *wargv[] = {worker, NULL};
    int err = muster_fork(&loop, worker, wargv, &o, &children[i], &channels[i]);
    if (err) {
      fprintf(stderr, "fork %s: %s\n", worker, muster_strerror(err));
      return 1;
    }
    /* keep_open: the parent goes on serving with its own copy. */
    muster_send_options_t so = {.keep_open = 1};
    err = muster_channel_send_text(channels[i], "\"server\"", 8, listen_fd, &so,
                                   NULL, NULL);
    if (err < 0) {
      fprintf(stderr, "send: %s\n", muster_strerror(err));
      return 1;
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  uv_sem_destroy(&closed_sem);
  return failed;
}

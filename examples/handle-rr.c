/* handle-rr: round-robin by hand, as the notes sketch it before the cluster
 * module does it for you (Node docs' "sending a socket object"):
 *
 *   const children = [fork('child.js'), fork('child.js')];
 *   let next = 0;
 *   net.createServer({ pauseOnConnect: true }, (socket) => {
 *     children[next++ % children.length].send('socket', socket);
 *   }).listen(port);
 *   // child.js
 *   process.on('message', (m, socket) => {
 *     if (m === 'socket' && socket) socket.end(`handled by child ${pid}\n`);
 *   });
 *
 * The parent accepts TCP connections itself and sends each one (its fd) to
 * the next child over the IPC channel (muster_channel_send with a handle);
 * the child writes one line naming itself and closes the connection. The
 * children are this same program, started with --child.
 *
 * Usage: handle-rr [N]
 *   N         stop after N connections (default 0: serve until SIGINT)
 *   PORT      port on 127.0.0.1 (default 0: any free port, printed)
 *   CHILDREN  number of children (default 2)
 *
 * Output: "listening on 127.0.0.1:PORT", one line per connection
 * ("connection K -> child PID"), and at the end how many connections each
 * child got. Exits 0 once the children have exited. */
#include <muster.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CHILDREN 16

static uv_loop_t loop;

/* ==== child =============================================================== */

static void child_message(muster_channel_t *ch, muster_message_t *m) {
  (void)ch;
  size_t len;
  const char *text = muster_message_text(m, &len);
  if (len != 8 || memcmp(text, "\"socket\"", 8) != 0)
    return;
  int fd = muster_message_handle(m, NULL); /* closed after this call */
  if (fd < 0)
    return;
  char line[64];
  int n = snprintf(line, sizeof line, "handled by child %d\n", (int)getpid());
  /* One short line on a fresh socket: the kernel takes it at once. */
  if (send(fd, line, (size_t)n, MSG_NOSIGNAL) < 0)
    perror("handle-rr child: send");
  shutdown(fd, SHUT_WR);
}

static void child_disconnect(muster_channel_t *ch, int reason) {
  (void)reason;
  muster_channel_close(ch, NULL); /* the loop ends: exit */
}

static int child_main(void) {
  muster_channel_options_t o;
  muster_channel_t *ch;
  memset(&o, 0, sizeof o);
  o.on_message = child_message;
  o.on_disconnect = child_disconnect;
  /* Ctrl-C is for the parent, which ends the children in order. */
  signal(SIGINT, SIG_IGN);
  int r = muster_channel_from_parent(&loop, &o, &ch);
  if (r < 0) {
    fprintf(stderr, "handle-rr child: %s\n", muster_strerror(r));
    return 1;
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return 0;
}

/* ==== parent ============================================================== */

static int nchildren = 2, limit, listen_fd = -1, failed;
static unsigned long accepted;
static muster_child_t *children[MAX_CHILDREN];
static muster_channel_t *channels[MAX_CHILDREN];
static unsigned long given[MAX_CHILDREN];
static int next_child, children_left;
static uv_poll_t accept_poll;
static uv_signal_t sigint;
static int stopping;

static void stop(void) {
  if (stopping)
    return;
  stopping = 1;
  uv_close((uv_handle_t *)&accept_poll, NULL);
  uv_close((uv_handle_t *)&sigint, NULL);
  close(listen_fd);
  listen_fd = -1;
  /* Disconnect after what is queued (the last handles) has been sent: the
   * children then read end of file and exit. */
  for (int i = 0; i < nchildren; i++)
    if (channels[i] != NULL && muster_channel_connected(channels[i]))
      muster_channel_disconnect(channels[i]);
}

static void on_accept(uv_poll_t *p, int status, int events) {
  (void)p;
  (void)events;
  if (status < 0)
    return;
  while (!stopping) {
    int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
        perror("handle-rr: accept");
      return;
    }
    /* Round-robin over the children still connected. */
    int i = -1;
    for (int k = 0; k < nchildren && i < 0; k++) {
      int c = (next_child + k) % nchildren;
      if (channels[c] != NULL && muster_channel_connected(channels[c]))
        i = c;
    }
    if (i < 0) {
      close(fd);
      stop();
      return;
    }
    next_child = i + 1;
    static const char msg[] = "\"socket\"";
    /* The channel owns fd from here and closes it once the child has
     * acknowledged it (Node closes a sent socket too). */
    int r = muster_channel_send_text(channels[i], msg, sizeof msg - 1, fd, NULL,
                                     NULL, NULL);
    if (r < 0) {
      fprintf(stderr, "handle-rr: send: %s\n", muster_strerror(r));
      close(fd);
      failed = 1;
      continue;
    }
    accepted++;
    given[i]++;
    printf("connection %lu -> child %d\n", accepted,
           muster_child_pid(children[i]));
    fflush(stdout);
    if (limit > 0 && accepted >= (unsigned long)limit)
      stop();
  }
}

static void on_sigint(uv_signal_t *s, int signum) {
  (void)s;
  (void)signum;
  stop();
}

static void parent_disconnect(muster_channel_t *ch, int reason) {
  if (reason != 0) {
    fprintf(stderr, "handle-rr: channel: %s\n", muster_strerror(reason));
    failed = 1;
  }
  (void)ch;
  if (!stopping)
    stop(); /* a child went away: the example ends */
}

static void on_child_exit(muster_child_t *c, int64_t status, int sig) {
  if (status != 0 || sig != 0) {
    fprintf(stderr, "handle-rr: child %d: exit %lld signal %d\n",
            muster_child_pid(c), (long long)status, sig);
    failed = 1;
  }
}

static void on_child_close(muster_child_t *c) {
  for (int i = 0; i < nchildren; i++)
    if (children[i] == c) {
      muster_channel_close(channels[i], NULL);
      channels[i] = NULL;
    }
  muster_child_close(c, NULL);
  children_left--;
}

static int parent_main(int argc, char **argv) {
  const char *e;
  int port = 0, r;
  if (argc > 1)
    limit = atoi(argv[1]);
  if ((e = getenv("PORT")) != NULL && *e != '\0')
    port = atoi(e);
  if ((e = getenv("CHILDREN")) != NULL && *e != '\0')
    nchildren = atoi(e);
  if (nchildren < 1 || nchildren > MAX_CHILDREN || limit < 0) {
    fprintf(stderr, "usage: handle-rr [N] (CHILDREN 1-%d)\n", MAX_CHILDREN);
    return 2;
  }

  muster_listen_options_t lo;
  memset(&lo, 0, sizeof lo);
  lo.kind = MUSTER_LISTEN_TCP;
  lo.address = "127.0.0.1";
  lo.port = port;
  if ((r = muster_listen(&lo, &listen_fd)) < 0) {
    fprintf(stderr, "handle-rr: listen: %s\n", muster_strerror(r));
    return 1;
  }
  muster_listen_address(listen_fd, NULL, 0, &port);

  const char *cargv[] = {"handle-rr", "--child", NULL};
  muster_fork_options_t fo;
  memset(&fo, 0, sizeof fo);
  fo.spawn.on_exit = on_child_exit;
  fo.spawn.on_close = on_child_close;
  fo.channel.on_disconnect = parent_disconnect;
  for (int i = 0; i < nchildren; i++) {
    r = muster_fork(&loop, "/proc/self/exe", cargv, &fo, &children[i],
                    &channels[i]);
    if (r < 0) {
      fprintf(stderr, "handle-rr: fork: %s\n", muster_strerror(r));
      return 1;
    }
    children_left++;
  }

  printf("listening on 127.0.0.1:%d with %d children", port, nchildren);
  for (int i = 0; i < nchildren; i++)
    printf(" %d", muster_child_pid(children[i]));
  printf("\n");
  fflush(stdout);

  uv_signal_init(&loop, &sigint);
  uv_signal_start(&sigint, on_sigint, SIGINT);
  uv_poll_init(&loop, &accept_poll, listen_fd);
  uv_poll_start(&accept_poll, UV_READABLE, on_accept);
  uv_run(&loop, UV_RUN_DEFAULT);

  printf("%lu connections:", accepted);
  for (int i = 0; i < nchildren; i++)
    printf(" %lu", given[i]);
  printf(" (per child)\n");
  uv_loop_close(&loop);
  return failed;
}

int main(int argc, char **argv) {
  uv_loop_init(&loop);
  if (argc > 1 && strcmp(argv[1], "--child") == 0)
    return child_main();
  return parent_main(argc, argv);
}

/* Handle passing: every kind of fd, Node's envelope, ACK/NACK, queueing
 * behind a handle in flight, retransmission, and no fd leaks. */
#include "test-channel-util.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int listen_tcp(int *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(s >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_OK(bind(s, (struct sockaddr *)&a, sizeof a));
  ASSERT_OK(listen(s, 16));
  socklen_t sl = sizeof a;
  ASSERT_OK(getsockname(s, (struct sockaddr *)&a, &sl));
  *port = ntohs(a.sin_port);
  return s;
}

static int connect_tcp(int port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  ASSERT_OK(connect(s, (struct sockaddr *)&a, sizeof a));
  return s;
}

typedef struct {
  uv_loop_t loop;
  muster_channel_t *a, *b;
  tch_t ta, tb;
} hpair_t;

static void stop_on_any(muster_channel_t *ch, muster_message_t *m) {
  uv_stop(muster_channel_loop(ch));
}

static void hpair_open(hpair_t *p) {
  int sv[2];
  ASSERT_OK(uv_loop_init(&p->loop));
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  tch_init(&p->ta);
  tch_init(&p->tb);
  p->tb.extra = stop_on_any;
  muster_channel_options_t a = tch_options(&p->ta);
  muster_channel_options_t b = tch_options(&p->tb);
  ASSERT_OK(muster_channel_open(&p->loop, sv[0], &a, &p->a));
  ASSERT_OK(muster_channel_open(&p->loop, sv[1], &b, &p->b));
}

static void hpair_close(hpair_t *p) {
  if (p->tb.taken_fd >= 0)
    close(p->tb.taken_fd);
  muster_channel_close(p->a, NULL);
  muster_channel_close(p->b, NULL);
  ASSERT_OK(uv_run(&p->loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&p->loop));
}

/* Runs until the ACK came back and the sender closed its copy. */
static void settle(uv_loop_t *loop) {
  for (int i = 0; i < 20; i++)
    uv_run(loop, UV_RUN_NOWAIT);
}

static const char *kind_seen;
static void note_kind(muster_channel_t *ch, muster_message_t *m) {
  kind_seen = muster_message_handle_kind(m);
  if (kind_seen)
    kind_seen = strcmp(kind_seen, "net.Server") == 0     ? "net.Server"
                : strcmp(kind_seen, "net.Socket") == 0   ? "net.Socket"
                : strcmp(kind_seen, "dgram.Socket") == 0 ? "dgram.Socket"
                : strcmp(kind_seen, "net.Native") == 0   ? "net.Native"
                : strcmp(kind_seen, "muster.Fd") == 0    ? "muster.Fd"
                                                         : "?";
  uv_stop(muster_channel_loop(ch));
}

/* A listening TCP socket: the receiver accepts a real connection on it. */
TEST(channel_handle_tcp_server) {
  hpair_t p;
  hpair_open(&p);
  p.tb.take_handle = 1;
  p.tb.extra = note_kind;
  int fds = test_fd_count();
  int port;
  int srv = listen_tcp(&port);
  ASSERT_EQ(muster_handle_type(srv), MUSTER_HANDLE_TCP_SERVER);
  ASSERT_OK(muster_channel_send_text(p.a, "{\"server\":true}", 15, srv, NULL,
                                     NULL, NULL));
  test_run_loop(&p.loop, 5000);
  ASSERT_EQ(p.tb.messages, 1);
  ASSERT_STR_EQ(p.tb.last, "{\"server\":true}");
  ASSERT_EQ(p.tb.last_type, MUSTER_HANDLE_TCP_SERVER);
  ASSERT_STR_EQ(kind_seen, "net.Server");
  settle(&p.loop);
  /* The sender gave up its copy (no keep_open); the receiver has one. */
  ASSERT_EQ(test_fd_count(), fds + 1);
  int c = connect_tcp(port);
  int s = accept4(p.tb.taken_fd, NULL, NULL, SOCK_CLOEXEC);
  ASSERT(s >= 0);
  ASSERT_EQ(write(c, "hi", 2), 2);
  char buf[4];
  ASSERT_EQ(read(s, buf, sizeof buf), 2);
  close(s);
  close(c);
  hpair_close(&p);
}

/* Every kind arrives as the same kind, with Node's type name. */
TEST(channel_handle_kinds) {
  hpair_t p;
  hpair_open(&p);
  p.tb.extra = note_kind;
  int port;
  int srv = listen_tcp(&port);
  int tcp = connect_tcp(port);
  int udp = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  int us = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un ua;
  memset(&ua, 0, sizeof ua);
  ua.sun_family = AF_UNIX;
  snprintf(ua.sun_path + 1, sizeof ua.sun_path - 1, "muster-test-%d",
           (int)getpid()); /* abstract */
  ASSERT_OK(bind(us, (struct sockaddr *)&ua, sizeof ua));
  ASSERT_OK(listen(us, 4));
  int pfd[2];
  ASSERT_OK(pipe2(pfd, O_CLOEXEC));
  struct {
    int fd;
    muster_handle_type_t type;
    const char *kind;
    int native;
  } cases[] = {
      {srv, MUSTER_HANDLE_TCP_SERVER, "net.Server", 0},
      {tcp, MUSTER_HANDLE_TCP, "net.Socket", 0},
      {udp, MUSTER_HANDLE_UDP, "dgram.Socket", 0},
      {sv[0], MUSTER_HANDLE_PIPE, "net.Socket", 0},
      {us, MUSTER_HANDLE_PIPE_SERVER, "net.Server", 0},
      {pfd[0], MUSTER_HANDLE_FD, "muster.Fd", 0},
      {tcp, MUSTER_HANDLE_TCP, "net.Native", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    ASSERT_EQ(muster_handle_type(cases[i].fd), cases[i].type);
    muster_send_options_t so = {.keep_open = 1, .native = cases[i].native};
    ASSERT_OK(
        muster_channel_send_text(p.a, "1", 1, cases[i].fd, &so, NULL, NULL));
    kind_seen = NULL;
    test_run_loop(&p.loop, 5000);
    ASSERT_EQ(p.tb.last_type, cases[i].type);
    ASSERT_STR_EQ(kind_seen, cases[i].kind);
  }
  ASSERT_EQ(p.tb.handles, 7);
  ASSERT_EQ(muster_handle_type(-1), MUSTER_HANDLE_NONE);
  settle(&p.loop);
  int fds[] = {srv, tcp, udp, sv[0], sv[1], us, pfd[0], pfd[1]};
  for (size_t i = 0; i < sizeof fds / sizeof *fds; i++)
    close(fds[i]);
  hpair_close(&p);
}

/* The wire, seen from a raw peer: Node's envelope; later messages are held
 * until the ACK; the fd rides on the first byte of the handle frame. */
static size_t raw_recv(uv_loop_t *loop, int fd, char *buf, size_t cap,
                       int *got_fd) {
  size_t got = 0;
  uint64_t t0 = test_now_ms();
  *got_fd = -1;
  while (got == 0 && test_now_ms() - t0 < 5000) {
    uv_run(loop, UV_RUN_NOWAIT);
    int fds[4], k;
    ssize_t n = test_recv_fds(fd, buf, cap - 1, fds, 4, &k);
    if (n > 0) {
      got = (size_t)n;
      ASSERT(k <= 1); /* exactly one, if any */
      if (k == 1)
        *got_fd = fds[0];
    } else {
      usleep(1000);
    }
  }
  buf[got] = '\0';
  return got;
}

static int cbs;
static void count_cb(muster_channel_t *ch, int status, void *arg) {
  ASSERT_OK(status);
  cbs++;
}

TEST(channel_handle_wire_and_queueing) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  tch_t t;
  tch_init(&t);
  muster_channel_options_t o = tch_options(&t);
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, sv[0], &o, &ch));
  int port;
  int srv = listen_tcp(&port);
  cbs = 0;
  ASSERT_OK(
      muster_channel_send_text(ch, "\"before\"", 8, -1, NULL, count_cb, NULL));
  ASSERT_OK(
      muster_channel_send_text(ch, "{\"a\":1}", 7, srv, NULL, count_cb, NULL));
  ASSERT_OK(
      muster_channel_send_text(ch, "\"after\"", 7, -1, NULL, count_cb, NULL));
  char buf[512];
  int fd;
  /* The kernel may glue the bytes before the fd's onto the same read. */
  size_t n = raw_recv(&loop, sv[1], buf, sizeof buf, &fd);
  if (n == 9) {
    ASSERT_STR_EQ(buf, "\"before\"\n");
    ASSERT_EQ(fd, -1);
    raw_recv(&loop, sv[1], buf, sizeof buf, &fd);
  } else {
    ASSERT_EQ(strncmp(buf, "\"before\"\n", 9), 0);
    memmove(buf, buf + 9, n - 9 + 1);
  }
  ASSERT_STR_EQ(buf, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":"
                     "{\"a\":1}}\n");
  ASSERT(fd >= 0);
  ASSERT_EQ(muster_handle_type(fd), MUSTER_HANDLE_TCP_SERVER);
  close(fd);
  ASSERT_EQ(cbs, 2);
  /* Held until the ACK. */
  for (int i = 0; i < 20; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT), -1);
  ASSERT(muster_channel_queue_size(ch) > 0);
  ASSERT_EQ(cbs, 2);
  const char ack[] = "{\"cmd\":\"NODE_HANDLE_ACK\"}\n";
  ASSERT_EQ(write(sv[1], ack, sizeof ack - 1), (ssize_t)sizeof ack - 1);
  raw_recv(&loop, sv[1], buf, sizeof buf, &fd);
  ASSERT_STR_EQ(buf, "\"after\"\n");
  ASSERT_EQ(cbs, 3);
  ASSERT_EQ(t.nerrors, 0);
  /* A dgram socket carries dgramType, as Node's does. */
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_OK(muster_channel_send_text(ch, "2", 1, udp, NULL, NULL, NULL));
  raw_recv(&loop, sv[1], buf, sizeof buf, &fd);
  ASSERT_STR_EQ(buf, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"dgram.Socket\","
                     "\"msg\":2,\"dgramType\":\"udp4\"}\n");
  ASSERT(fd >= 0);
  close(fd);
  ASSERT_EQ(write(sv[1], ack, sizeof ack - 1), (ssize_t)sizeof ack - 1);
  for (int i = 0; i < 20; i++)
    uv_run(&loop, UV_RUN_NOWAIT);
  muster_channel_close(ch, NULL);
  close(sv[1]);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* NACK: the same frame goes again with the fd, 4 attempts in all; then the
 * sender gives up, reports EPROTO, and closes its copy. */
TEST(channel_handle_nack_retransmit) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  tch_t t;
  tch_init(&t);
  muster_channel_options_t o = tch_options(&t);
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, sv[0], &o, &ch));
  int fds = test_fd_count();
  int sock[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock));
  close(sock[1]);
  ASSERT_OK(
      muster_channel_send_text(ch, "\"h\"", 3, sock[0], NULL, NULL, NULL));
  ASSERT_OK(muster_channel_send_text(ch, "\"next\"", 6, -1, NULL, NULL, NULL));
  const char nack[] = "{\"cmd\":\"NODE_HANDLE_NACK\"}\n";
  char buf[512];
  for (int attempt = 0; attempt < 4; attempt++) {
    int fd;
    raw_recv(&loop, sv[1], buf, sizeof buf, &fd);
    ASSERT_STR_EQ(buf, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\","
                       "\"msg\":\"h\"}\n");
    ASSERT(fd >= 0);
    close(fd);
    ASSERT_EQ(write(sv[1], nack, sizeof nack - 1), (ssize_t)sizeof nack - 1);
  }
  int fd;
  raw_recv(&loop, sv[1], buf, sizeof buf, &fd);
  ASSERT_STR_EQ(buf, "\"next\"\n");
  ASSERT_EQ(t.nerrors, 1);
  ASSERT_ERR(t.errors[0], MUSTER_EPROTO);
  ASSERT_EQ(test_fd_count(), fds);
  muster_channel_close(ch, NULL);
  close(sv[1]);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* What a Node sender may do: a double-wrapped retransmission (one fd, one
 * ACK, the inner message), an fd that arrives with the tail of an earlier
 * message, and a handle whose message is internal (cluster's newconn). */
static int writefd(int sock, const char *s, int fd) {
  return (int)test_send_fds(sock, s, strlen(s), &fd, fd >= 0 ? 1 : 0);
}

TEST(channel_handle_node_sender_quirks) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int sv[2];
  ASSERT_OK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
  tch_t t;
  tch_init(&t);
  t.extra = stop_on_any;
  muster_channel_options_t o = tch_options(&t);
  muster_channel_t *ch;
  ASSERT_OK(muster_channel_open(&loop, sv[0], &o, &ch));
  int fds = test_fd_count();
  int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  writefd(sv[1],
          "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"cmd\":"
          "\"NODE_HANDLE\",\"type\":\"dgram.Socket\",\"msg\":{\"m\":1},"
          "\"dgramType\":\"udp4\"}}\n",
          udp);
  test_run_loop(&loop, 5000);
  ASSERT_EQ(t.messages, 1);
  ASSERT_STR_EQ(t.last, "{\"m\":1}");
  ASSERT_EQ(t.last_type, MUSTER_HANDLE_UDP);
  char buf[256];
  uv_run(&loop, UV_RUN_NOWAIT);
  ssize_t n = recv(sv[1], buf, sizeof buf - 1, MSG_DONTWAIT);
  /* Exactly one ACK: ours carries the handle window and the batches a
   * muster sender may use, {"cmd":"NODE_HANDLE_ACK","window":64,"batch":1}
   * (48 bytes). Node's sender looks only at "cmd", so to this raw Node-like
   * peer it is Node's ACK. */
  ASSERT_EQ(n, 48);
  buf[n] = '\0';
  ASSERT_STR_EQ(buf,
                "{\"cmd\":\"NODE_HANDLE_ACK\",\"window\":64,\"batch\":1}\n");
  /* The fd comes with the tail of a message and the head of the frame. */
  writefd(sv[1], "\"first\"\n{\"cmd\":\"NODE_HA", udp);
  writefd(sv[1],
          "NDLE\",\"type\":\"net.Native\",\"msg\":{\"cmd\":\"NODE_CLUSTER\","
          "\"act\":\"newconn\"}}\n",
          -1);
  test_run_loop(&loop, 5000);
  if (t.internals == 0) /* the second write came in a later wake-up */
    test_run_loop(&loop, 5000);
  ASSERT_EQ(t.messages, 2);
  ASSERT_EQ(t.internals, 1);
  ASSERT_STR_EQ(t.last, "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"newconn\"}");
  ASSERT_EQ(t.last_type, MUSTER_HANDLE_UDP);
  ASSERT_EQ(t.nerrors, 0);
  close(udp);
  uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(test_fd_count(), fds);
  muster_channel_close(ch, NULL);
  close(sv[1]);
  ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
  ASSERT_OK(uv_loop_close(&loop));
}

/* 10,000 handles to a child and back: both sides hold the same fds after
 * as before. */
typedef struct {
  int sent, received, fds_before, fds_after;
  int base[2];
  muster_channel_t *ch;
} many_t;

static many_t many;

static void many_send_next(void) {
  /* Alternate kinds: a socket (as Node would see) and a plain fd. */
  int fd = many.base[many.sent % 2];
  muster_send_options_t so = {.keep_open = 1};
  char buf[32];
  int n = snprintf(buf, sizeof buf, "%d", many.sent);
  ASSERT(muster_channel_send_text(many.ch, buf, (size_t)n, fd, &so, NULL,
                                  NULL) >= 0);
  many.sent++;
}

static void many_message(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_text(m, &len);
  if (len > 7 && memcmp(s, "{\"fds\":", 7) == 0) {
    int v = atoi(s + 7);
    if (many.fds_before < 0) {
      many.fds_before = v;
      for (int i = 0; i < 64; i++)
        many_send_next(); /* a window: they queue behind each other */
    } else {
      many.fds_after = v;
      muster_channel_disconnect(ch);
    }
    return;
  }
  ASSERT(muster_message_handle(m, NULL) >= 0);
  many.received++;
  if (many.sent < 10000)
    many_send_next();
  else if (many.received == 10000)
    muster_channel_send_text(ch, "\"fds\"", 5, -1, NULL, NULL, NULL);
}

static void many_disconnect(muster_channel_t *ch, int reason) {
  ASSERT_OK(reason);
  muster_channel_close(ch, NULL);
}

TEST_T(channel_handle_10000_no_leak, 120) {
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  int fds = test_fd_count();
  uv_process_t proc;
  int fd;
  tch_spawn(&loop, &proc, test_fixture_argv("channel_echo", NULL), &fd);
  memset(&many, 0, sizeof many);
  many.fds_before = -1;
  many.base[0] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  many.base[1] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  muster_channel_options_t o = {0};
  o.on_message = many_message;
  o.on_disconnect = many_disconnect;
  ASSERT_OK(muster_channel_open(&loop, fd, &o, &many.ch));
  ASSERT_OK(
      muster_channel_send_text(many.ch, "\"fds\"", 5, -1, NULL, NULL, NULL));
  test_run_loop(&loop, 100000);
  ASSERT_EQ(many.received, 10000);
  ASSERT(many.fds_before > 0);
  ASSERT_EQ(many.fds_after, many.fds_before);
  ASSERT_EQ((intptr_t)proc.data, 1);
  close(many.base[0]);
  close(many.base[1]);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT_OK(uv_loop_close(&loop));
}

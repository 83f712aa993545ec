/* Fuzz target for the channel's whole receive side (src/channel.c): a real
 * channel on a socketpair, fed by a raw peer that writes the input in
 * chunks, some of them carrying an fd. Exercises framing, validation, the
 * internal-message rule and the handle protocol (ACK/NACK, nested
 * envelopes, orphan fds) under ASan, and checks that every fd sent in was
 * closed or handed out, and that the channel ends cleanly.
 *
 * Input: a sequence of chunks; each starts with a byte whose bit 7 asks for
 * an fd on that chunk and whose low 7 bits are the chunk's length. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <muster.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    n++;
  closedir(d);
  return n;
}

static int ended;

static void on_any(muster_channel_t *ch, muster_message_t *m) {
  size_t len;
  const char *s = muster_message_text(m, &len);
  /* Ask for the value of some messages only, so that the channel's value
   * path (one pass to check and parse) and its checked path alternate. */
  json_t *j = len > 1 && (s[1] & 2) ? muster_message_json(m) : NULL;
  /* Take every other handle, as a user might, and close it. */
  if (len > 0 && (s[0] & 1)) {
    int fd = muster_message_take_handle(m, NULL);
    if (fd >= 0)
      close(fd);
  }
  (void)j;
}

static void on_end(muster_channel_t *ch, int reason) {
  ended = 1;
  muster_channel_close(ch, NULL);
}

static void send_chunk(int sock, const uint8_t *p, size_t n, int with_fd) {
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } cm;
  struct iovec iov = {(void *)p, n};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  memset(&cm, 0, sizeof cm);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  int fd = -1;
  if (with_fd && n > 0) {
    fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    mh.msg_control = cm.buf;
    mh.msg_controllen = sizeof cm.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL);
  /* EPIPE/ECONNRESET: the channel ended (a frame over the limit). */
  if (w != (ssize_t)n && !(w < 0 && (errno == EPIPE || errno == ECONNRESET))) {
    perror("sendmsg");
    abort();
  }
  if (fd >= 0)
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int warm;
  if (!warm) {
    /* libuv opens a process-wide pipe with the first loop: not ours. */
    uv_loop_t l;
    uv_loop_init(&l);
    uv_loop_close(&l);
    warm = 1;
  }
  int before = fd_count();
  uv_loop_t loop;
  uv_loop_init(&loop);
  int sv[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
  muster_channel_options_t o;
  memset(&o, 0, sizeof o);
  o.max_message_size = 1024;
  o.on_message = on_any;
  o.on_internal = on_any;
  o.on_disconnect = on_end;
  muster_channel_t *ch;
  int err = muster_channel_open(&loop, sv[1], &o, &ch);
  if (err != 0) {
    fprintf(stderr, "open: %s\n", muster_err_name(err));
    abort();
  }
  ended = 0;
  /* Something to ACK: a handle of our own in flight. */
  int sock[2];
  socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock);
  muster_channel_send_text(ch, "1", 1, sock[0], NULL, NULL, NULL);
  close(sock[1]);
  muster_channel_send_text(ch, "2", 1, -1, NULL, NULL, NULL);
  size_t i = 0;
  while (i < size) {
    size_t n = data[i] & 0x7f;
    int with_fd = data[i] >> 7;
    i++;
    if (n > size - i)
      n = size - i;
    send_chunk(sv[0], data + i, n, with_fd);
    i += n;
    uv_run(&loop, UV_RUN_NOWAIT);
    char sink[4096];
    while (recv(sv[0], sink, sizeof sink, MSG_DONTWAIT) > 0) {
    }
  }
  close(sv[0]);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (!ended)
    abort(); /* end of file must end the channel */
  if (uv_loop_close(&loop) != 0)
    abort();
  /* recvmsg(MSG_CMSG_CLOEXEC) fds in flight were all closed. */
  if (fd_count() != before) {
    fprintf(stderr, "fd leak: %d before, %d after\n", before, fd_count());
    abort();
  }
  return 0;
}

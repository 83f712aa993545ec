/* The "fds" and "threads" sections of a diagnostic report (see
 * src/process_report_internal.h).
 *
 * ASYNC-SIGNAL-SAFE ONLY: this file runs inside the fatal-signal handler.
 * Directories are read with the getdents64 system call (opendir()
 * allocates), addresses are formatted by hand (inet_ntop is not on the
 * async-signal-safe list), and every buffer is on the stack. */
#include "process_report_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <unistd.h>

ssize_t muster__report_read_file(const char *path, char *buf, size_t size) {
  size_t len = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);

  if (fd < 0)
    return -errno;
  while (len + 1 < size) {
    ssize_t n = read(fd, buf + len, size - 1 - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = '\0';
  return (ssize_t)len;
}

void muster__report_cat(char *buf, size_t size, size_t *len, const char *s) {
  while (*s != '\0' && *len + 1 < size)
    buf[(*len)++] = *s++;
  buf[*len] = '\0';
}

struct raw_dirent {
  uint64_t ino;
  int64_t off;
  unsigned short reclen;
  unsigned char type;
  char name[];
};

/* Calls fn(number, arg) for each all-digit name in directory `path`
 * (/proc/self/fd, /proc/self/task), skipping `skip_fd`'s own number when
 * it is the directory's fd itself. */
static void each_number(const char *path, int is_fd_dir,
                        void (*fn)(long n, void *arg), void *arg) {
  char buf[4096] __attribute__((aligned(8)));
  int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (dir < 0)
    return;
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, sizeof buf);
    if (n <= 0)
      break;
    for (long off = 0; off < n;) {
      struct raw_dirent *d = (struct raw_dirent *)(buf + off);
      long v = 0;
      const char *p = d->name;
      off += d->reclen;
      if (*p < '0' || *p > '9')
        continue;
      while (*p >= '0' && *p <= '9')
        v = v * 10 + (*p++ - '0');
      if (is_fd_dir && v == dir)
        continue;
      fn(v, arg);
    }
  }
  close(dir);
}

/* "/proc/self/<dir>/<n><tail>" into buf. */
static void proc_path(char *buf, size_t size, const char *dir, long n,
                      const char *tail) {
  char digits[21];
  size_t len = 0;
  buf[0] = '\0';
  muster__jw_utoa((uint64_t)n, digits);
  muster__report_cat(buf, size, &len, "/proc/self/");
  muster__report_cat(buf, size, &len, dir);
  muster__report_cat(buf, size, &len, "/");
  muster__report_cat(buf, size, &len, digits);
  muster__report_cat(buf, size, &len, tail);
}

/* ---- socket addresses --------------------------------------------------- */

static size_t put_dec(char *out, unsigned v) {
  char d[21];
  size_t n = muster__jw_utoa(v, d);
  memcpy(out, d, n);
  return n;
}

/* Text of an IPv6 address with the longest run of zero groups (two or
 * more) written "::", as inet_ntop does. out: room for 40. */
static void ipv6_text(const unsigned char *a, char *out) {
  static const char hex[] = "0123456789abcdef";
  unsigned g[8];
  int best = -1, best_len = 0, n = 0;

  for (int i = 0; i < 8; i++)
    g[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
  for (int i = 0; i < 8;) {
    int j = i;
    while (j < 8 && g[j] == 0)
      j++;
    if (j - i > best_len && j - i >= 2) {
      best = i;
      best_len = j - i;
    }
    i = j > i ? j : i + 1;
  }
  for (int i = 0; i < 8; i++) {
    if (i == best) {
      out[n++] = ':';
      if (i == 0)
        out[n++] = ':';
      i += best_len - 1;
      continue;
    }
    int started = 0;
    for (int shift = 12; shift >= 0; shift -= 4) {
      unsigned nib = (g[i] >> shift) & 15;
      if (nib != 0 || started || shift == 0) {
        out[n++] = hex[nib];
        started = 1;
      }
    }
    if (i < 7)
      out[n++] = ':';
  }
  out[n] = '\0';
}

static void write_address(struct muster__jw *w, const char *key,
                          const struct sockaddr_storage *ss, socklen_t len) {
  char text[INET6_ADDRSTRLEN + 8];
  size_t n = 0;

  muster__jw_object(w, key);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *in = (const void *)ss;
    const unsigned char *b = (const void *)&in->sin_addr;
    for (int i = 0; i < 4; i++) {
      n += put_dec(text + n, b[i]);
      if (i < 3)
        text[n++] = '.';
    }
    muster__jw_strn(w, "address", text, n);
    muster__jw_int(w, "port", ntohs(in->sin_port));
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const void *)ss;
    ipv6_text(in6->sin6_addr.s6_addr, text);
    muster__jw_str(w, "address", text);
    muster__jw_int(w, "port", ntohs(in6->sin6_port));
  } else if (ss->ss_family == AF_UNIX) {
    const struct sockaddr_un *un = (const void *)ss;
    size_t plen = len > offsetof(struct sockaddr_un, sun_path)
                      ? len - offsetof(struct sockaddr_un, sun_path)
                      : 0;
    if (plen > 0 && un->sun_path[0] == '\0') {
      /* Abstract: written "@name", as ss(8) does. */
      char abs[sizeof un->sun_path + 1] = {'@'};
      memcpy(abs + 1, un->sun_path + 1, plen - 1);
      muster__jw_strn(w, "path", abs, plen);
    } else {
      while (plen > 0 && un->sun_path[plen - 1] == '\0')
        plen--;
      muster__jw_strn(w, "path", un->sun_path, plen);
    }
  }
  muster__jw_end(w, '}');
}

static const char *family_name(int family) {
  switch (family) {
  case AF_INET:
    return "inet";
  case AF_INET6:
    return "inet6";
  case AF_UNIX:
    return "unix";
  case AF_NETLINK:
    return "netlink";
  case AF_PACKET:
    return "packet";
  default:
    return "other";
  }
}

static const char *socktype_name(int type) {
  switch (type) {
  case SOCK_STREAM:
    return "stream";
  case SOCK_DGRAM:
    return "dgram";
  case SOCK_SEQPACKET:
    return "seqpacket";
  case SOCK_RAW:
    return "raw";
  default:
    return "other";
  }
}

static void write_socket(struct muster__jw *w, int fd) {
  struct sockaddr_storage ss;
  socklen_t len;
  int v;
  socklen_t vlen = sizeof v;

  if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &vlen) == 0)
    muster__jw_str(w, "family", family_name(v));
  vlen = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &vlen) == 0)
    muster__jw_str(w, "socketType", socktype_name(v));
  vlen = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen) == 0)
    muster__jw_bool(w, "listening", v);
  len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
    write_address(w, "local", &ss, len);
  len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
    write_address(w, "remote", &ss, len);
}

/* ---- fds ---------------------------------------------------------------- */

/* "anon_inode:[eventfd]" → "eventfd"; "anon_inode:inotify" → "inotify". */
static void anon_kind(const char *target, char *out, size_t size) {
  const char *p = target + strlen("anon_inode:");
  size_t n = 0;
  if (*p == '[')
    p++;
  while (*p != '\0' && *p != ']' && n + 1 < size)
    out[n++] = *p++;
  out[n] = '\0';
  if (strcmp(out, "eventpoll") == 0)
    memcpy(out, "epoll", 6);
}

static const char *kind_of(int fd, const struct stat *st, const char *target,
                           char *anon, size_t anon_size) {
  struct termios tio;

  if (strncmp(target, "anon_inode:", 11) == 0) {
    anon_kind(target, anon, anon_size);
    return anon;
  }
  switch (st->st_mode & S_IFMT) {
  case S_IFSOCK:
    return "socket";
  case S_IFIFO:
    return strncmp(target, "pipe:", 5) == 0 ? "pipe" : "fifo";
  case S_IFCHR:
    /* tcgetattr is ioctl(TCGETS): async-signal-safe. */
    return ioctl(fd, TCGETS, &tio) == 0 ? "tty" : "char";
  case S_IFREG:
    return "file";
  case S_IFDIR:
    return "directory";
  case S_IFBLK:
    return "block";
  default:
    return "unknown";
  }
}

static void write_fd(long n, void *arg) {
  struct muster__jw *w = arg;
  int fd = (int)n;
  char link[64], target[4096], anon[32];
  struct stat st;
  ssize_t len;

  proc_path(link, sizeof link, "fd", n, "");
  len = readlink(link, target, sizeof target - 1);
  if (len < 0)
    return; /* closed since the directory was read */
  target[len] = '\0';
  if (fstat(fd, &st) != 0)
    memset(&st, 0, sizeof st);
  const char *kind = kind_of(fd, &st, target, anon, sizeof anon);
  int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);

  muster__jw_object(w, NULL);
  muster__jw_int(w, "fd", fd);
  muster__jw_str(w, "type", kind);
  muster__jw_str(w, "target", target);
  if (fl >= 0) {
    int acc = fl & O_ACCMODE;
    muster__jw_str(w, "mode",
                   acc == O_RDONLY   ? "r"
                   : acc == O_WRONLY ? "w"
                                     : "rw");
    muster__jw_bool(w, "nonblocking", (fl & O_NONBLOCK) != 0);
  }
  if (fdfl >= 0)
    muster__jw_bool(w, "cloexec", (fdfl & FD_CLOEXEC) != 0);
  if (strcmp(kind, "file") == 0) {
    muster__jw_int(w, "size", st.st_size);
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos >= 0)
      muster__jw_int(w, "offset", pos);
  } else if (strcmp(kind, "socket") == 0) {
    write_socket(w, fd);
  }
  if (strcmp(kind, "pipe") == 0 || strcmp(kind, "socket") == 0)
    muster__jw_uint(w, "inode", (uint64_t)st.st_ino);
  muster__jw_end(w, '}');
}

void muster__report_fds(struct muster__jw *w) {
  muster__jw_array(w, "fds");
  each_number("/proc/self/fd", 1, write_fd, w);
  muster__jw_end(w, ']');
}

/* ---- threads ------------------------------------------------------------ */

struct thread_walk {
  struct muster__jw *w;
  int signal_tid;
};

static void write_thread(long tid, void *arg) {
  struct thread_walk *t = arg;
  char path[64], buf[512];
  ssize_t n;

  muster__jw_object(t->w, NULL);
  muster__jw_int(t->w, "tid", tid);
  proc_path(path, sizeof path, "task", tid, "/comm");
  n = muster__report_read_file(path, buf, sizeof buf);
  if (n > 0) {
    if (buf[n - 1] == '\n')
      buf[--n] = '\0';
    muster__jw_str(t->w, "name", buf);
  }
  proc_path(path, sizeof path, "task", tid, "/stat");
  if (muster__report_read_file(path, buf, sizeof buf) > 0) {
    /* "tid (comm) S ...": the state follows the last ')'. */
    const char *p = strrchr(buf, ')');
    if (p != NULL && p[1] == ' ' && p[2] != '\0')
      muster__jw_strn(t->w, "state", p + 2, 1);
  }
  muster__jw_bool(t->w, "signalled", tid == t->signal_tid);
  muster__jw_end(t->w, '}');
}

void muster__report_threads(struct muster__jw *w, int signal_tid) {
  struct thread_walk t = {w, signal_tid};
  muster__jw_array(w, "threads");
  each_number("/proc/self/task", 0, write_thread, &t);
  muster__jw_end(w, ']');
}

/* Buffers whose ownership moves: detach on transfer, untransferable marks,
 * memory files for large buffers, the port-side detach/attach halves across
 * threads and the memory file mapped by another process. */
#include "test.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../src/buffer_internal.h"

TEST(buffer_create_small_heap) {
  muster_buffer_t *b;
  ASSERT_OK(muster_buffer_create(100, &b));
  ASSERT_EQ(muster_buffer_length(b), 100);
  ASSERT(!muster_buffer_is_mapped(b));
  ASSERT(!muster_buffer_is_detached(b));
  const unsigned char *p = muster_buffer_data(b);
  for (int i = 0; i < 100; i++)
    ASSERT_EQ(p[i], 0);
  muster_buffer_free(b);

  ASSERT_OK(muster_buffer_create(0, &b));
  ASSERT_EQ(muster_buffer_length(b), 0);
  ASSERT(muster_buffer_data(b) == NULL);
  ASSERT(!muster_buffer_is_detached(b));
  muster_buffer_free(b);
  muster_buffer_free(NULL);
}

TEST(buffer_create_large_mapped) {
  int fds = test_fd_count();
  muster_buffer_t *b;
  ASSERT_OK(muster_buffer_create(MUSTER_BUFFER_MAP_MIN, &b));
  ASSERT(muster_buffer_is_mapped(b));
  ASSERT_EQ(test_fd_count(), fds + 1);
  unsigned char *p = muster_buffer_data(b);
  ASSERT_EQ(p[0] | p[MUSTER_BUFFER_MAP_MIN - 1], 0);
  memset(p, 0xab, MUSTER_BUFFER_MAP_MIN);
  muster_buffer_free(b);
  ASSERT_EQ(test_fd_count(), fds);
}

TEST(buffer_bad_arguments) {
  muster_buffer_t *b = (muster_buffer_t *)1;
  ASSERT_ERR(muster_buffer_create(1, NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_buffer_from(NULL, 1, &b), MUSTER_EINVAL);
  ASSERT(b == (muster_buffer_t *)1);
  ASSERT_ERR(muster_buffer_transfer(NULL, &b), MUSTER_EINVAL);
  ASSERT_ERR(muster_buffer_create((size_t)-1, &b), MUSTER_ENOMEM);
  ASSERT(b == (muster_buffer_t *)1);
  ASSERT_EQ(muster_buffer_length(NULL), 0);
  ASSERT(muster_buffer_data(NULL) == NULL);
}

static void check_transfer(size_t len) {
  muster_buffer_t *a, *b, *c;
  char *src = malloc(len);
  for (size_t i = 0; i < len; i++)
    src[i] = (char)(i * 7);
  ASSERT_OK(muster_buffer_from(src, len, &a));
  void *bytes = muster_buffer_data(a);
  ASSERT_OK(muster_buffer_transfer(a, &b));
  /* The sender's handle is detached, the bytes were not copied. */
  ASSERT(muster_buffer_is_detached(a));
  ASSERT_EQ(muster_buffer_length(a), 0);
  ASSERT(muster_buffer_data(a) == NULL);
  ASSERT(muster_buffer_data(b) == bytes);
  ASSERT_EQ(muster_buffer_length(b), len);
  ASSERT_EQ(memcmp(muster_buffer_data(b), src, len), 0);
  /* A detached buffer cannot be transferred again. */
  c = NULL;
  ASSERT_ERR(muster_buffer_transfer(a, &c), MUSTER_EINVAL);
  ASSERT(c == NULL);
  muster_buffer_free(a);
  muster_buffer_free(b);
  free(src);
}

TEST(buffer_transfer_detaches_sender) {
  check_transfer(1000);
  check_transfer(MUSTER_BUFFER_MAP_MIN * 2);
}

TEST(buffer_untransferable) {
  muster_buffer_t *a, *b = NULL;
  ASSERT_OK(muster_buffer_from("hello", 5, &a));
  ASSERT(!muster_buffer_is_untransferable(a));
  muster_buffer_mark_as_untransferable(a);
  ASSERT(muster_buffer_is_untransferable(a));
  ASSERT_ERR(muster_buffer_transfer(a, &b), MUSTER_EINVAL);
  ASSERT_ERR(muster__buffer_check(a), MUSTER_EINVAL);
  muster__buffer_storage_t st = {NULL, 0, -1};
  ASSERT_ERR(muster__buffer_detach(a, &st), MUSTER_EINVAL);
  ASSERT(st.data == NULL);
  /* Nothing changed: the bytes are still there. */
  ASSERT(b == NULL);
  ASSERT(!muster_buffer_is_detached(a));
  ASSERT_EQ(memcmp(muster_buffer_data(a), "hello", 5), 0);
  muster_buffer_free(a);
}

typedef struct {
  muster__buffer_storage_t st;
  size_t len;
  int ok;
} receiver_t;

/* The receiving thread: attach, check, own and free the new handle. */
static void *receive(void *arg) {
  receiver_t *r = arg;
  muster_buffer_t *b;
  if (muster__buffer_attach(&r->st, &b) != 0)
    return NULL;
  const unsigned char *p = muster_buffer_data(b);
  r->ok = muster_buffer_length(b) == r->len && p[0] == 1 &&
          p[r->len - 1] == 2 && r->st.data == NULL && r->st.fd == -1;
  muster_buffer_free(b);
  return NULL;
}

static void detach_to_thread(size_t len) {
  muster_buffer_t *a;
  ASSERT_OK(muster_buffer_create(len, &a));
  unsigned char *p = muster_buffer_data(a);
  p[0] = 1;
  p[len - 1] = 2;
  receiver_t r = {{NULL, 0, -1}, len, 0};
  ASSERT_OK(muster__buffer_check(a));
  ASSERT_OK(muster__buffer_detach(a, &r.st));
  ASSERT(r.st.data == p);
  ASSERT(muster_buffer_is_detached(a));
  ASSERT_ERR(muster__buffer_detach(a, &r.st), MUSTER_EINVAL);
  pthread_t th;
  ASSERT_OK(pthread_create(&th, NULL, receive, &r));
  ASSERT_OK(pthread_join(th, NULL));
  ASSERT(r.ok);
  muster_buffer_free(a);
}

TEST(buffer_detach_attach_across_threads) {
  int fds = test_fd_count();
  detach_to_thread(64);
  detach_to_thread(MUSTER_BUFFER_MAP_MIN + 1);
  ASSERT_EQ(test_fd_count(), fds);
}

TEST(buffer_storage_release_undelivered) {
  int fds = test_fd_count();
  muster_buffer_t *a;
  muster__buffer_storage_t st;
  ASSERT_OK(muster_buffer_create(MUSTER_BUFFER_MAP_MIN, &a));
  ASSERT_OK(muster__buffer_detach(a, &st));
  muster_buffer_free(a);
  ASSERT_EQ(test_fd_count(), fds + 1);
  muster__buffer_storage_release(&st);
  ASSERT_EQ(test_fd_count(), fds);
  ASSERT(st.data == NULL && st.fd == -1);
  muster__buffer_storage_release(&st);
}

/* A forked child maps the memory file of a transferred buffer and writes
 * into it: the parent sees the bytes, no copy was made. */
TEST(buffer_memfd_mapped_by_another_process) {
  muster_buffer_t *a;
  ASSERT_OK(muster_buffer_create(4 * MUSTER_BUFFER_MAP_MIN, &a));
  muster__buffer_storage_t st;
  ASSERT_OK(muster__buffer_detach(a, &st));
  muster_buffer_free(a);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    muster__buffer_storage_t other;
    int fd = dup(st.fd);
    if (muster__buffer_storage_from_fd(fd, st.len, &other) != 0)
      _exit(1);
    memset(other.data, 0x5a, other.len);
    muster__buffer_storage_release(&other);
    _exit(0);
  }
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const unsigned char *p = st.data;
  ASSERT_EQ(p[0], 0x5a);
  ASSERT_EQ(p[st.len - 1], 0x5a);
  muster__buffer_storage_release(&st);
}

TEST(buffer_storage_from_fd_bad) {
  int fds = test_fd_count();
  muster__buffer_storage_t st = {NULL, 0, -1};
  ASSERT_ERR(muster__buffer_storage_from_fd(-1, 10, &st), MUSTER_EINVAL);
  int fd = memfd_create("t", MFD_CLOEXEC);
  ASSERT(fd >= 0);
  ASSERT_OK(ftruncate(fd, 100));
  /* Ownership moves also on error: the fd is closed each time. */
  ASSERT_ERR(muster__buffer_storage_from_fd(fd, 101, &st), MUSTER_EINVAL);
  ASSERT_EQ(test_fd_count(), fds);
  fd = memfd_create("t", MFD_CLOEXEC);
  ASSERT_ERR(muster__buffer_storage_from_fd(fd, 0, &st), MUSTER_EINVAL);
  int p[2];
  ASSERT_OK(pipe(p));
  close(p[1]);
  ASSERT_ERR(muster__buffer_storage_from_fd(p[0], 10, &st), MUSTER_EINVAL);
  ASSERT(st.data == NULL);
  ASSERT_EQ(test_fd_count(), fds);
}

TEST(buffer_storage_map_copies_heap_bytes) {
  muster_buffer_t *a;
  ASSERT_OK(muster_buffer_from("abcdef", 6, &a));
  muster__buffer_storage_t st;
  ASSERT_OK(muster__buffer_detach(a, &st));
  ASSERT_EQ(st.fd, -1);
  ASSERT_OK(muster__buffer_storage_map(&st));
  ASSERT(st.fd >= 0);
  ASSERT_EQ(memcmp(st.data, "abcdef", 6), 0);
  ASSERT_OK(muster__buffer_storage_map(&st)); /* already mapped */
  muster_buffer_t *b;
  ASSERT_OK(muster__buffer_attach(&st, &b));
  ASSERT(muster_buffer_is_mapped(b));
  muster_buffer_free(b);
  muster_buffer_free(a);
  muster__buffer_storage_t none = {NULL, 0, -1};
  ASSERT_ERR(muster__buffer_storage_map(&none), MUSTER_EINVAL);
}

/* Out of descriptors: a large buffer still works, on the heap. */
TEST(buffer_large_without_descriptors_falls_back) {
  struct rlimit old, low;
  ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
  low = old;
  low.rlim_cur = 64;
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &low));
  int dups[64], n = 0;
  while (n < 64 && (dups[n] = dup(0)) >= 0)
    n++;
  muster_buffer_t *b;
  int err = muster_buffer_create(MUSTER_BUFFER_MAP_MIN, &b);
  for (int i = 0; i < n; i++)
    close(dups[i]);
  ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
  ASSERT_OK(err);
  ASSERT(!muster_buffer_is_mapped(b));
  ASSERT_EQ(muster_buffer_length(b), MUSTER_BUFFER_MAP_MIN);
  muster_buffer_free(b);
}

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "test-logfile.h"

const char *tlog_dir(void) {
  static char dir[64];
  snprintf(dir, sizeof dir, "/tmp/muster-log-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  return dir;
}

void tlog_rmdir(const char *dir) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  struct dirent *e;
  char path[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.' &&
        (e->d_name[1] == '\0' || strcmp(e->d_name, "..") == 0))
      continue;
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    unlink(path);
  }
  closedir(d);
  ASSERT_OK(rmdir(dir));
}

char *tlog_read(const char *path, size_t *len) {
  size_t n = strlen(path);
  gzFile z =
      n > 3 && strcmp(path + n - 3, ".gz") == 0 ? gzopen(path, "rb") : NULL;
  FILE *f = z ? NULL : fopen(path, "rb");
  if (z == NULL && f == NULL)
    TEST_FAIL("cannot open %s", path);
  size_t cap = 1 << 16, got = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (got + 65536 + 1 > cap)
      buf = realloc(buf, cap *= 2);
    ASSERT(buf != NULL);
    long r =
        z ? gzread(z, buf + got, 65536) : (long)fread(buf + got, 1, 65536, f);
    if (r <= 0)
      break;
    got += (size_t)r;
  }
  if (z)
    gzclose(z);
  else
    fclose(f);
  buf[got] = '\0';
  if (len)
    *len = got;
  return buf;
}

muster_logfile_t *tlog_open(uv_loop_t *loop, const char *dir, const char *name,
                            const muster_logfile_options_t *o) {
  char path[512];
  muster_logfile_t *f;
  snprintf(path, sizeof path, "%s/%s", dir, name);
  ASSERT_OK(muster_logfile_open(loop, path, o, &f));
  return f;
}

static int closed;

static void on_close(muster_logfile_t *f) {
  (void)f;
  closed = 1;
}

void tlog_close(uv_loop_t *loop, muster_logfile_t *f) {
  closed = 0;
  muster_logfile_close(f, on_close);
  test_run_loop(loop, 60000);
  ASSERT(closed);
}

int tlog_count(const char *dir, const char *prefix, const char *suffix) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  struct dirent *e;
  int n = 0;
  size_t sl = strlen(suffix);
  while ((e = readdir(d)) != NULL) {
    size_t len = strlen(e->d_name);
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 && len >= sl &&
        strcmp(e->d_name + len - sl, suffix) == 0)
      n++;
  }
  closedir(d);
  return n;
}

void tlog_loop_close(uv_loop_t *loop) {
  uv_run(loop, UV_RUN_DEFAULT);
  ASSERT_OK(uv_loop_close(loop));
}

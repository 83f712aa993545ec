/* execPath, version(s), release and config (muster/process_build.h), each
 * compared with an independent source. */
#include "test.h"

#include <limits.h>
#include <sys/utsname.h>
#include <unistd.h>

TEST(process_exec_path) {
  char want[PATH_MAX], buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", want, sizeof want - 1);
  ASSERT(n > 0);
  want[n] = '\0';
  size_t size = sizeof buf;
  ASSERT_OK(muster_process_exec_path(buf, &size));
  ASSERT_STR_EQ(buf, want);
  ASSERT_EQ(size, (size_t)n);
  ASSERT_EQ(buf[0], '/');

  /* Too small: the size needed comes back, and then it fits. */
  char small[4];
  size = sizeof small;
  ASSERT_ERR(muster_process_exec_path(small, &size), MUSTER_ENOBUFS);
  ASSERT_EQ(size, (size_t)n + 1);
  char *exact = malloc(size);
  ASSERT_OK(muster_process_exec_path(exact, &size));
  ASSERT_STR_EQ(exact, want);
  free(exact);

  ASSERT_ERR(muster_process_exec_path(NULL, &size), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_exec_path(buf, NULL), MUSTER_EINVAL);
  size = 0;
  ASSERT_ERR(muster_process_exec_path(buf, &size), MUSTER_EINVAL);
}

TEST(process_versions) {
  ASSERT_STR_EQ(muster_process_version(), "v" MUSTER_VERSION_STRING);
  muster_versions_t v;
  ASSERT_OK(muster_process_versions(&v));
  ASSERT_STR_EQ(v.muster, MUSTER_VERSION_STRING);
  ASSERT_STR_EQ(v.uv, uv_version_string());
  ASSERT_STR_EQ(v.jansson, jansson_version_str());
  struct utsname u;
  ASSERT_EQ(uname(&u), 0);
  ASSERT_STR_EQ(v.kernel, u.release);
  ASSERT_ERR(muster_process_versions(NULL), MUSTER_EINVAL);

  const muster_release_t *rel = muster_process_release();
  ASSERT_STR_EQ(rel->name, "muster");
  ASSERT_STR_EQ(rel->version, MUSTER_VERSION_STRING);
  ASSERT(rel->build_type != NULL);
}

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BUILT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define BUILT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define BUILT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define BUILT_TSAN 1
#endif

TEST(process_config) {
  json_t *c = muster_process_config();
  ASSERT(c != NULL && json_is_object(c));
  const char *compiler = json_string_value(json_object_get(c, "compiler"));
  ASSERT(compiler != NULL);
#if defined(__clang__)
  ASSERT(strncmp(compiler, "clang ", 6) == 0);
#else
  ASSERT(strncmp(compiler, "gcc ", 4) == 0);
#endif
  ASSERT(strstr(json_string_value(json_object_get(c, "cflags")), "-Wall"));
  ASSERT_STR_EQ(json_string_value(json_object_get(c, "build_type")),
                muster_process_release()->build_type);
  json_t *san = json_object_get(c, "sanitizers");
  ASSERT(json_is_array(san));
  /* The tests are built with the library's flags: the sanitizer list says
   * what this very binary runs under. */
  int asan = 0, tsan = 0;
  for (size_t i = 0; i < json_array_size(san); i++) {
    const char *s = json_string_value(json_array_get(san, i));
    asan |= strcmp(s, "address") == 0;
    tsan |= strcmp(s, "thread") == 0;
  }
#ifdef BUILT_ASAN
  ASSERT(asan);
#else
  ASSERT(!asan);
#endif
#ifdef BUILT_TSAN
  ASSERT(tsan);
#else
  ASSERT(!tsan);
#endif
  json_t *f = json_object_get(c, "features");
  ASSERT(json_is_boolean(json_object_get(f, "avx2")));
  ASSERT(json_is_boolean(json_object_get(f, "pidfd")));
  ASSERT(json_is_string(json_object_get(c, "uv_compiled")));
  ASSERT_STR_EQ(json_string_value(json_object_get(c, "jansson_compiled")),
                JANSSON_VERSION);
  json_decref(c);
}

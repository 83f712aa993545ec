/* uid/gid/groups (muster/process_ids.h). Changing ids is done in a fixture
 * (process_ids_drop), never in the test process. */
#include "test.h"

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(process_ids_get) {
  ASSERT_EQ(muster_process_getuid(), getuid());
  ASSERT_EQ(muster_process_geteuid(), geteuid());
  ASSERT_EQ(muster_process_getgid(), getgid());
  ASSERT_EQ(muster_process_getegid(), getegid());

  /* Sizing call, then the list; the effective gid is always in it. */
  size_t n = 0;
  ASSERT_ERR(muster_process_getgroups(NULL, &n), MUSTER_ENOBUFS);
  ASSERT_GE(n, 1);
  gid_t *g = calloc(n, sizeof *g);
  size_t got = n;
  ASSERT_OK(muster_process_getgroups(g, &got));
  ASSERT_EQ(got, n);
  int has_egid = 0;
  for (size_t i = 0; i < got; i++)
    has_egid |= g[i] == getegid();
  ASSERT(has_egid);
  free(g);
  ASSERT_ERR(muster_process_getgroups(NULL, NULL), MUSTER_EINVAL);
  n = 3;
  ASSERT_ERR(muster_process_getgroups(NULL, &n), MUSTER_EINVAL);
}

TEST(process_ids_lookup) {
  uid_t uid = 1234;
  gid_t gid = 1234;
  ASSERT_OK(muster_process_user_id("root", &uid));
  ASSERT_EQ(uid, 0);
  ASSERT_OK(muster_process_group_id("root", &gid));
  ASSERT_EQ(gid, 0);
  ASSERT_ERR(muster_process_user_id("no-such-user-muster", &uid),
             MUSTER_ENOENT);
  ASSERT_ERR(muster_process_group_id("no-such-group-muster", &gid),
             MUSTER_ENOENT);
  ASSERT_ERR(muster_process_user_id("", &uid), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_user_id(NULL, &uid), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_user_id("root", NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_group_id(NULL, &gid), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setuid_name("no-such-user-muster"), MUSTER_ENOENT);
  ASSERT_ERR(muster_process_seteuid_name(""), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setgid_name("no-such-group-muster"), MUSTER_ENOENT);
  ASSERT_ERR(muster_process_setegid_name(NULL), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_initgroups("no-such-user-muster", 0),
             MUSTER_ENOENT);
  ASSERT_ERR(muster_process_initgroups(NULL, 0), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setgroups(NULL, 1), MUSTER_EINVAL);
  ASSERT_ERR(muster_process_setgroups(&gid, 1u << 20), MUSTER_EINVAL);
  /* Setting what we already have is allowed to anyone. */
  ASSERT_OK(muster_process_seteuid(geteuid()));
  ASSERT_OK(muster_process_setegid(getegid()));
}

/* The fixture drops root for "nobody" (by name), with a second thread
 * running, and checks what is then refused. */
TEST(process_ids_drop) {
  if (geteuid() != 0)
    TEST_SKIP("needs root to change ids (the EPERM cases run as nobody)");
  if (getpwnam("nobody") == NULL)
    TEST_SKIP("no user \"nobody\"");
  muster_exec_options_t o;
  memset(&o, 0, sizeof o);
  o.spawn.timeout_ms = 20000;
  muster_exec_result_t r;
  ASSERT_OK(muster_spawn_sync(test_fixture_path(),
                              test_fixture_argv("process_ids_drop", NULL), &o,
                              &r));
  if (r.exit_status != 0)
    fprintf(stderr, "fixture: %s%s", r.stdout_buf, r.stderr_buf);
  ASSERT_EQ(r.term_signal, 0);
  ASSERT_EQ(r.exit_status, 0);
  char want[64];
  snprintf(want, sizeof want, "thread euid %u\n",
           (unsigned)getpwnam("nobody")->pw_uid);
  ASSERT(strstr(r.stdout_buf, want) != NULL);
  ASSERT(strstr(r.stdout_buf, "dropped\n") != NULL);
  muster_exec_result_free(&r);
}

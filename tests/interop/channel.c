/* Interop with real Node (v20): Node parent with a C child, C parent with a
 * Node child; messages, large messages, handles both ways, disconnect both
 * ways. The Node side (tests/interop/node/driver.js) makes the assertions;
 * the C side is the interop agent fixture (tests/fixtures/channel.c); as a
 * parent it starts node with muster_fork(). */
#include "test.h"

#include <unistd.h>

#define NODE_DIR MUSTER_SOURCE_DIR "/tests/interop/node"

static int64_t run_status;
static void run_exit(uv_process_t *p, int64_t status, int sig) {
  run_status = sig ? 128 + sig : status;
  uv_close((uv_handle_t *)p, NULL);
}

/* Runs argv to completion with stdio inherited; returns its exit status. */
static int64_t run(const char *const *argv) {
  static char *env[512];
  extern char **environ;
  int n = 0;
  /* NODE_EXTRA_CA_CERTS costs each node start 60 ms here. */
  for (char **e = environ; *e && n < 510; e++)
    if (strncmp(*e, "NODE_EXTRA_CA_CERTS=", 20) &&
        strncmp(*e, "NODE_CHANNEL", 12))
      env[n++] = *e;
  env[n] = NULL;
  uv_loop_t loop;
  ASSERT_OK(uv_loop_init(&loop));
  uv_stdio_container_t stdio[3] = {
      {UV_IGNORE, {0}},
      {UV_INHERIT_FD, {.fd = 1}},
      {UV_INHERIT_FD, {.fd = 2}},
  };
  uv_process_options_t o;
  memset(&o, 0, sizeof o);
  o.file = argv[0];
  o.args = (char **)argv;
  o.env = env;
  o.stdio = stdio;
  o.stdio_count = 3;
  o.exit_cb = run_exit;
  uv_process_t proc;
  run_status = -1;
  ASSERT_OK(uv_spawn(&loop, &proc, &o));
  test_run_loop(&loop, 90000);
  ASSERT_OK(uv_loop_close(&loop));
  return run_status;
}

static const char *node_path(void) {
  const char *node = test_which("node");
  if (node == NULL)
    TEST_SKIP("node is not on PATH");
  static char path[4096];
  snprintf(path, sizeof path, "%s", node);
  return path;
}

static void node_parent(const char *scenario) {
  const char *argv[] = {node_path(), NODE_DIR "/parent.js", test_fixture_path(),
                        scenario, NULL};
  ASSERT_EQ(run(argv), 0);
}

/* A Node parent that spawns with stdio [0, 1, 2, 'pipe', 'ipc']: the
 * channel is on fd 4. */
TEST_T(interop_node_spawn_ipc_on_fd4, 60) {
  const char *argv[] = {node_path(),
                        NODE_DIR "/parent.js",
                        test_fixture_path(),
                        "messages",
                        "spawn",
                        NULL};
  ASSERT_EQ(run(argv), 0);
}

static void c_parent(const char *scenario) {
  const char *argv[] = {test_fixture_path(),  "interop_parent", node_path(),
                        NODE_DIR "/child.js", scenario,         NULL};
  ASSERT_EQ(run(argv), 0);
}

TEST_T(interop_node_parent_messages, 60) {
  node_parent("messages");
}
TEST_T(interop_node_parent_large, 60) {
  node_parent("large");
}
TEST_T(interop_node_parent_handles, 60) {
  node_parent("handles");
}
TEST_T(interop_node_parent_udp, 60) {
  node_parent("udp");
}
TEST_T(interop_node_parent_disconnects, 60) {
  node_parent("node-disconnects");
}
TEST_T(interop_node_parent_c_child_disconnects, 60) {
  node_parent("c-disconnects");
}

TEST_T(interop_c_parent_messages, 60) {
  c_parent("messages");
}
TEST_T(interop_c_parent_large, 60) {
  c_parent("large");
}
TEST_T(interop_c_parent_handles, 60) {
  c_parent("handles");
}
TEST_T(interop_c_parent_udp, 60) {
  c_parent("udp");
}
TEST_T(interop_c_parent_node_child_disconnects, 60) {
  c_parent("node-disconnects");
}
TEST_T(interop_c_parent_disconnects, 60) {
  c_parent("c-disconnects");
}

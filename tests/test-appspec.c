/* App specs: normalization, units, diagnostics with positions, ecosystem
 * files in JSON, YAML and (with node) JavaScript. */
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"

static json_t *parse_json(const char *text) {
  json_error_t e;
  json_t *j = json_loads(text, 0, &e);
  if (j == NULL)
    TEST_FAIL("bad test JSON: %s", e.text);
  return j;
}

/* Normalizes `text` (one app); returns the canonical form. */
static json_t *norm(const char *text, const muster_appspec_options_t *o,
                    json_t *warnings) {
  json_t *in = parse_json(text), *out = NULL;
  muster_appspec_error_t err;
  int r = muster_appspec_normalize(in, o, &out, warnings, &err);
  json_decref(in);
  if (r != 0)
    TEST_FAIL("normalize %s: %s", text, err.text);
  return out;
}

/* Normalizes `text`, expecting an error; returns it. */
static muster_appspec_error_t norm_err(const char *text) {
  json_t *in = parse_json(text), *out = NULL;
  muster_appspec_error_t err;
  int r = muster_appspec_normalize(in, NULL, &out, NULL, &err);
  json_decref(in);
  if (r == 0)
    TEST_FAIL("normalize %s: accepted", text);
  ASSERT_ERR(r, MUSTER_EINVAL);
  ASSERT_EQ(err.code, r);
  ASSERT(out == NULL);
  return err;
}

static long long geti(const json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  if (!json_is_integer(v))
    TEST_FAIL("%s is not an integer", k);
  return json_integer_value(v);
}

static const char *gets(const json_t *o, const char *k) {
  json_t *v = json_object_get(o, k);
  if (!json_is_string(v))
    TEST_FAIL("%s is not a string", k);
  return json_string_value(v);
}

TEST(appspec_defaults) {
  char cwd[4096];
  ASSERT(getcwd(cwd, sizeof cwd) != NULL);
  json_t *w = json_array();
  json_t *a = norm("{\"script\": \"/srv/api/server.js\"}", NULL, w);
  ASSERT_EQ(json_array_size(w), 0);
  ASSERT_STR_EQ(gets(a, "name"), "server");
  ASSERT_STR_EQ(gets(a, "script"), "/srv/api/server.js");
  ASSERT_STR_EQ(gets(a, "cwd"), cwd);
  ASSERT_EQ(geti(a, "instances"), 1);
  ASSERT_STR_EQ(gets(a, "exec_mode"), "fork");
  ASSERT_STR_EQ(gets(a, "namespace"), "default");
  ASSERT(json_is_true(json_object_get(a, "autorestart")));
  ASSERT_EQ(geti(a, "max_restarts"), 16);
  ASSERT_EQ(geti(a, "min_uptime"), 1000);
  ASSERT_EQ(geti(a, "kill_timeout"), 1600);
  ASSERT_STR_EQ(gets(a, "kill_signal"), "SIGTERM");
  ASSERT(json_is_false(json_object_get(a, "wait_ready")));
  ASSERT_EQ(geti(a, "listen_timeout"), 3000);
  ASSERT_EQ(geti(a, "log_max_size"), 10 << 20);
  ASSERT_EQ(geti(a, "log_retain"), 5);
  ASSERT_STR_EQ(gets(a, "log_rotate_interval"), "daily");
  ASSERT_STR_EQ(gets(a, "log_type"), "raw");
  ASSERT(json_is_array(json_object_get(a, "args")));
  ASSERT(json_is_object(json_object_get(a, "env")));
  ASSERT(json_object_get(a, "interpreter") == NULL);
  ASSERT(json_object_get(a, "out_file") == NULL);
  /* The canonical form is a fixed point. */
  json_t *again = NULL;
  ASSERT_OK(muster_appspec_normalize(a, NULL, &again, w, NULL));
  ASSERT(json_equal(a, again));
  ASSERT_EQ(json_array_size(w), 0);
  json_decref(again);
  json_decref(a);
  json_decref(w);
}

TEST(appspec_units) {
  muster_appspec_options_t o = {.cpus = 4, .base_dir = "/srv/app"};
  json_t *a = norm("{\"script\": \"bin/x\", \"name\": \"x\","
                   " \"min_uptime\": \"1s\", \"restart_delay\": 250,"
                   " \"kill_timeout\": \"500ms\", \"log_max_size\": \"10M\","
                   " \"log_max_total\": \"1G\", \"kill_signal\": \"int\","
                   " \"exp_backoff_restart_delay\": \"2m\","
                   " \"args\": \"--port 3000 'hello world' a\\\\ b\","
                   " \"node_args\": [\"--max-old-space-size=128\"],"
                   " \"instances\": \"max\", \"exec_mode\": \"fork_mode\","
                   " \"env\": {\"PORT\": 3000, \"DEBUG\": true},"
                   " \"stop_exit_codes\": 0, \"uid\": \"1000\","
                   " \"gid\": \"staff\", \"out_file\": \"logs/out.log\","
                   " \"autorestart\": \"false\", \"cwd\": \"sub\","
                   " \"wait_ready\": true, \"listen_timeout\": \"5s\"}",
                   &o, NULL);
  ASSERT_EQ(geti(a, "min_uptime"), 1000);
  ASSERT_EQ(geti(a, "restart_delay"), 250);
  ASSERT_EQ(geti(a, "kill_timeout"), 500);
  ASSERT_EQ(geti(a, "log_max_size"), 10 << 20);
  ASSERT_EQ(geti(a, "log_max_total"), 1 << 30);
  ASSERT_EQ(geti(a, "exp_backoff_restart_delay"), 120000);
  ASSERT(json_is_true(json_object_get(a, "wait_ready")));
  ASSERT_EQ(geti(a, "listen_timeout"), 5000);
  ASSERT_STR_EQ(gets(a, "kill_signal"), "SIGINT");
  json_t *args = json_object_get(a, "args");
  ASSERT_EQ(json_array_size(args), 4);
  ASSERT_STR_EQ(json_string_value(json_array_get(args, 2)), "hello world");
  ASSERT_STR_EQ(json_string_value(json_array_get(args, 3)), "a b");
  ASSERT_STR_EQ(json_string_value(
                    json_array_get(json_object_get(a, "interpreter_args"), 0)),
                "--max-old-space-size=128");
  ASSERT_EQ(geti(a, "instances"), 4);
  ASSERT_STR_EQ(gets(a, "exec_mode"), "fork");
  ASSERT_STR_EQ(gets(json_object_get(a, "env"), "PORT"), "3000");
  ASSERT_STR_EQ(gets(json_object_get(a, "env"), "DEBUG"), "true");
  ASSERT_EQ(json_integer_value(
                json_array_get(json_object_get(a, "stop_exit_codes"), 0)),
            0);
  ASSERT_EQ(geti(a, "uid"), 1000);
  ASSERT_STR_EQ(gets(a, "gid"), "staff");
  ASSERT_STR_EQ(gets(a, "cwd"), "/srv/app/sub");
  ASSERT_STR_EQ(gets(a, "out_file"), "/srv/app/sub/logs/out.log");
  /* bin/x has a '/': resolved against cwd even though it does not exist */
  ASSERT_STR_EQ(gets(a, "script"), "/srv/app/sub/bin/x");
  ASSERT(json_is_false(json_object_get(a, "autorestart")));
  json_decref(a);
  /* A bare program name that is no file in cwd is left for PATH. */
  a = norm("{\"script\": \"python3\", \"instances\": -1}", &o, NULL);
  ASSERT_STR_EQ(gets(a, "script"), "python3");
  ASSERT_EQ(geti(a, "instances"), 3);
  json_decref(a);
}

TEST(appspec_unit_parsers) {
  uint64_t v;
  ASSERT_OK(muster_appspec_parse_size("10M", &v));
  ASSERT_EQ(v, 10 << 20);
  ASSERT_OK(muster_appspec_parse_size(" 512kb ", &v));
  ASSERT_EQ(v, 512 << 10);
  ASSERT_OK(muster_appspec_parse_size("1.5G", &v));
  ASSERT_EQ(v, 3ull << 29);
  ASSERT_OK(muster_appspec_parse_size("100", &v));
  ASSERT_EQ(v, 100);
  ASSERT_ERR(muster_appspec_parse_size("10X", &v), MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_parse_size("-1", &v), MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_parse_size("", &v), MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_parse_size("99999999999T", &v), MUSTER_ERANGE);
  ASSERT_ERR(muster_appspec_parse_size(NULL, &v), MUSTER_EINVAL);
  ASSERT_OK(muster_appspec_parse_duration("500ms", &v));
  ASSERT_EQ(v, 500);
  ASSERT_OK(muster_appspec_parse_duration("1s", &v));
  ASSERT_EQ(v, 1000);
  ASSERT_OK(muster_appspec_parse_duration("1h", &v));
  ASSERT_EQ(v, 3600000);
  ASSERT_OK(muster_appspec_parse_duration("0.5s", &v));
  ASSERT_EQ(v, 500);
  ASSERT_ERR(muster_appspec_parse_duration("1 fortnight", &v), MUSTER_EINVAL);
  ASSERT_EQ(muster_appspec_parse_signal("SIGTERM"), 15);
  ASSERT_EQ(muster_appspec_parse_signal("hup"), 1);
  ASSERT_EQ(muster_appspec_parse_signal("9"), 9);
  ASSERT_ERR(muster_appspec_parse_signal("SIGFOO"), MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_parse_signal("0"), MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_parse_signal("99"), MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_parse_signal(""), MUSTER_EINVAL);
  json_t *w;
  ASSERT_OK(muster_appspec_parse_args("a \"b c\" 'd\"' \"\" e\\ f", &w));
  ASSERT_EQ(json_array_size(w), 5);
  ASSERT_STR_EQ(json_string_value(json_array_get(w, 1)), "b c");
  ASSERT_STR_EQ(json_string_value(json_array_get(w, 2)), "d\"");
  ASSERT_STR_EQ(json_string_value(json_array_get(w, 3)), "");
  ASSERT_STR_EQ(json_string_value(json_array_get(w, 4)), "e f");
  json_decref(w);
  ASSERT_ERR(muster_appspec_parse_args("a 'b", &w), MUSTER_EINVAL);
}

TEST(appspec_bad_attributes) {
  struct {
    const char *spec, *attr, *message;
  } cases[] = {
      {"{\"script\": \"a\", \"instances\": \"many\"}", "instances",
       "expected an integer or \"max\", got \"many\""},
      {"{\"script\": \"a\", \"kill_signal\": \"SIGFOO\"}", "kill_signal",
       "expected a signal name like \"SIGINT\", got \"SIGFOO\""},
      {"{\"script\": \"a\", \"min_uptime\": \"1x\"}", "min_uptime",
       "expected a duration (milliseconds, or \"500ms\", \"1s\", \"2m\"), "
       "got \"1x\""},
      {"{\"script\": \"a\", \"log_max_size\": -5}", "log_max_size",
       "expected a size (bytes, or \"512K\", \"10M\", \"1G\"), got -5"},
      {"{\"name\": \"a\"}", "script",
       "every app needs a script (the program to run)"},
      {"{\"script\": \"a\", \"name\": \"12\"}", "name",
       "a name cannot be all digits (it would read as an app id), got "
       "\"12\""},
      {"{\"script\": \"a\", \"name\": \"a/b\"}", "name",
       "a name cannot hold '/' or control characters"},
      {"{\"script\": \"a\", \"env\": {\"A\": {}}}", "env.A",
       "expected a string, number or boolean, got an object"},
      {"{\"script\": \"a\", \"env\": [1]}", "env",
       "expected an object of variables, got an array"},
      {"{\"script\": \"a\", \"args\": \"'open\"}", "args",
       "expected a string with closed quotes, or an array, got \"'open\""},
      {"{\"script\": \"a\", \"args\": [\"x\", {}]}", "args[1]",
       "expected a string, got an object"},
      {"{\"script\": \"a\", \"stop_exit_codes\": [0, 300]}",
       "stop_exit_codes[1]", "expected an exit code 0..255, got 300"},
      {"{\"script\": \"a\", \"autorestart\": 1}", "autorestart",
       "expected true or false, got 1"},
      {"{\"script\": \"a\", \"exec_mode\": \"thread\"}", "exec_mode",
       "expected \"fork\" or \"cluster\", got \"thread\""},
      {"{\"script\": \"\"}", "script", "expected a non-empty string, got \"\""},
      {"{\"script\": \"a\", \"max_restarts\": 1.5}", "max_restarts",
       "expected an integer >= 0, got 1.5"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    muster_appspec_error_t e = norm_err(cases[i].spec);
    ASSERT_STR_EQ(e.attribute, cases[i].attr);
    ASSERT_STR_EQ(e.message, cases[i].message);
    ASSERT_EQ(e.line, 0);
    ASSERT_STR_EQ(e.file, "");
    char text[800];
    snprintf(text, sizeof text, "%s: %s", cases[i].attr, cases[i].message);
    ASSERT_STR_EQ(e.text, text);
  }
  /* Not an object at all; NULL arguments. */
  json_t *out = NULL, *arr = json_array();
  muster_appspec_error_t e;
  ASSERT_ERR(muster_appspec_normalize(arr, NULL, &out, NULL, &e),
             MUSTER_EINVAL);
  ASSERT_STR_EQ(e.message, "expected an app object, got an array");
  ASSERT_ERR(muster_appspec_normalize(NULL, NULL, &out, NULL, NULL),
             MUSTER_EINVAL);
  ASSERT_ERR(muster_appspec_normalize(arr, NULL, NULL, NULL, NULL),
             MUSTER_EINVAL);
  json_decref(arr);
}

TEST(appspec_warnings) {
  json_t *w = json_array();
  json_t *a = norm("{\"script\": \"a\", \"watch\": true, \"colour\": 1,"
                   " \"exec_mode\": \"cluster\", \"env_staging\": {}}",
                   NULL, w);
  ASSERT_EQ(json_array_size(w), 3);
  ASSERT_STR_EQ(json_string_value(json_array_get(w, 0)),
                "watch: not supported by muster yet; ignored");
  ASSERT_STR_EQ(json_string_value(json_array_get(w, 1)),
                "colour: unknown attribute; ignored");
  ASSERT(strstr(json_string_value(json_array_get(w, 2)), "exec_mode: ") ==
         json_string_value(json_array_get(w, 2)));
  ASSERT(json_object_get(a, "watch") == NULL);
  ASSERT(json_object_get(a, "colour") == NULL);
  ASSERT(json_object_get(a, "env_staging") == NULL);
  json_decref(a);
  json_decref(w);
}

TEST(appspec_env_select) {
  const char *spec =
      "{\"script\": \"a\", \"env\": {\"A\": \"1\", \"B\": \"1\"},"
      " \"env_production\": {\"B\": \"2\", \"C\": 3}}";
  muster_appspec_options_t o = {.env_name = "production"};
  json_t *a = norm(spec, &o, NULL);
  json_t *env = json_object_get(a, "env");
  ASSERT_EQ(json_object_size(env), 3);
  ASSERT_STR_EQ(gets(env, "A"), "1");
  ASSERT_STR_EQ(gets(env, "B"), "2");
  ASSERT_STR_EQ(gets(env, "C"), "3");
  json_decref(a);
  a = norm(spec, NULL, NULL);
  ASSERT_STR_EQ(gets(json_object_get(a, "env"), "B"), "1");
  json_decref(a);
  /* A selected env_<name> that is not an object is an error. */
  json_t *in = parse_json("{\"script\": \"a\", \"env_production\": 1}"), *out;
  muster_appspec_error_t e;
  ASSERT_ERR(muster_appspec_normalize(in, &o, &out, NULL, &e), MUSTER_EINVAL);
  ASSERT_STR_EQ(e.attribute, "env_production");
  json_decref(in);
}

static int parse_text(const char *text, const char *file,
                      const muster_appspec_options_t *o, json_t **apps,
                      json_t *w, muster_appspec_error_t *e) {
  return muster_appspec_parse(text, strlen(text), file, MUSTER_APPSPEC_AUTO, o,
                              apps, w, e);
}

static const char eco_json[] = "{\n"
                               "  \"apps\": [\n"
                               "    {\n"
                               "      \"name\": \"api\",\n"
                               "      \"script\": \"server.js\",\n"
                               "      \"instances\": 2,\n"
                               "      \"watch\": false\n"
                               "    },\n"
                               "    {\n"
                               "      \"name\": \"worker\",\n"
                               "      \"script\": \"worker.py\",\n"
                               "      \"interpreter\": \"python3\",\n"
                               "      \"env\": {\"QUEUE\": \"jobs\"}\n"
                               "    }\n"
                               "  ]\n"
                               "}\n";

static const char eco_yaml[] = "# the same two apps\n"
                               "defaults: &defaults\n"
                               "  instances: 2\n"
                               "apps:\n"
                               "  - name: api\n"
                               "    script: server.js\n"
                               "    <<: *defaults\n"
                               "    watch: false\n"
                               "  - name: worker\n"
                               "    script: worker.py\n"
                               "    interpreter: python3\n"
                               "    instances: 1\n"
                               "    <<: *defaults\n"
                               "    env:\n"
                               "      QUEUE: jobs\n";

TEST(appspec_file_json_yaml) {
  muster_appspec_options_t o = {.base_dir = "/srv"};
  json_t *wj = json_array(), *wy = json_array(), *aj, *ay;
  muster_appspec_error_t e;
  ASSERT_OK(parse_text(eco_json, "eco.json", &o, &aj, wj, &e));
  ASSERT_EQ(json_array_size(aj), 2);
  ASSERT_STR_EQ(gets(json_array_get(aj, 0), "script"), "/srv/server.js");
  ASSERT_EQ(geti(json_array_get(aj, 0), "instances"), 2);
  ASSERT_EQ(json_array_size(wj), 1);
  ASSERT_STR_EQ(json_string_value(json_array_get(wj, 0)),
                "eco.json:7:16: apps[0].watch: not supported by muster yet; "
                "ignored");
  /* "defaults" at the top is not an app attribute: no warning for it */
  ASSERT_OK(parse_text(eco_yaml, "eco.yaml", &o, &ay, wy, &e));
  ASSERT(json_equal(aj, ay));
  ASSERT_EQ(json_array_size(wy), 1);
  ASSERT_STR_EQ(json_string_value(json_array_get(wy, 0)),
                "eco.yaml:8:12: apps[0].watch: not supported by muster yet; "
                "ignored");
  json_decref(aj);
  json_decref(ay);
  json_decref(wj);
  json_decref(wy);
  /* --only */
  o.only = "worker";
  ASSERT_OK(parse_text(eco_yaml, "eco.yml", &o, &ay, NULL, &e));
  ASSERT_EQ(json_array_size(ay), 1);
  ASSERT_STR_EQ(gets(json_array_get(ay, 0), "name"), "worker");
  json_decref(ay);
  o.only = "api,worker";
  ASSERT_OK(parse_text(eco_json, "eco.json", &o, &aj, NULL, &e));
  ASSERT_EQ(json_array_size(aj), 2);
  json_decref(aj);
  o.only = "api,wroker";
  aj = NULL;
  ASSERT_ERR(parse_text(eco_json, "eco.json", &o, &aj, NULL, &e), MUSTER_ESRCH);
  ASSERT(aj == NULL);
  ASSERT_STR_EQ(e.text, "eco.json: --only: no app named \"wroker\" here");
}

TEST(appspec_file_errors) {
  struct {
    const char *text, *file, *want;
  } cases[] = {
      {"{\"apps\": [\n  {\"script\": \"a\"},\n  {\"script\": \"b\",\n"
       "   \"instances\": \"many\"}\n]}",
       "e.json",
       "e.json:4:17: apps[1].instances: expected an integer or \"max\", got "
       "\"many\""},
      {"apps:\n  - script: a\n  - script: b\n    instances: many\n", "e.yaml",
       "e.yaml:4:16: apps[1].instances: expected an integer or \"max\", got "
       "\"many\""},
      {"{\"apps\": [\n  {\"script\": \"a\",}\n]}", "e.json",
       "e.json:2:18: string or '}' expected near '}'"},
      {"apps:\n  - script: a\n   bad: [\n", "e.yml",
       "e.yml:3:4: did not find expected '-' indicator"},
      {"[{\"script\": \"a\", \"script\": \"b\"}]", "e.json",
       "e.json:1:25: duplicate object key near '\"script\"'"},
      {"apps:\n  - script: a\n    script: b\n", "e.yaml",
       "e.yaml:3:13: apps[0].script: duplicate key \"script\""},
      {"[{\"script\": \"a\", \"name\": \"x\"},\n {\"script\": \"b\", "
       "\"name\": \"x\"}]",
       "e.json",
       "e.json:2:26: [1].name: two apps are named \"x\" (the other is "
       "[0])"},
      {"\"just a string\"", "e.json",
       "e.json:1:1: expected an object with an \"apps\" array, an array of "
       "apps, or one app"},
      {"{\"apps\": 3}", "e.json",
       "e.json:1:10: apps: expected an array of apps"},
      {"apps:\n  - *nope\n", "e.yaml",
       "e.yaml:2:5: apps[0]: unknown alias \"*nope\""},
      {"apps: [1]\n", "e.yaml",
       "e.yaml:1:8: apps[0]: expected an app object, got 1"},
      {"---\napps: []\n---\napps: []\n", "e.yaml",
       "e.yaml:3:1: only one YAML document is allowed"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    json_t *apps = NULL;
    muster_appspec_error_t e;
    int r = parse_text(cases[i].text, cases[i].file, NULL, &apps, NULL, &e);
    if (r == 0)
      TEST_FAIL("case %zu accepted", i);
    ASSERT(apps == NULL);
    ASSERT_EQ(e.code, r);
    if (strcmp(e.text, cases[i].want) != 0)
      TEST_FAIL("case %zu:\n got  %s\n want %s", i, e.text, cases[i].want);
  }
}

/* A temporary directory with one file in it; removed by cleanup(). */
static char dir[64];
static char file[128];

static void write_file(const char *name, const char *text) {
  snprintf(dir, sizeof dir, "/tmp/muster-appspec-XXXXXX");
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(file, sizeof file, "%s/%s", dir, name);
  FILE *f = fopen(file, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void cleanup(void) {
  unlink(file);
  rmdir(dir);
}

TEST(appspec_load_files) {
  json_t *apps;
  muster_appspec_error_t e;
  write_file("ecosystem.yml", eco_yaml);
  ASSERT_OK(muster_appspec_load(file, NULL, &apps, NULL, &e));
  char want[256];
  snprintf(want, sizeof want, "%s/server.js", dir);
  ASSERT_STR_EQ(gets(json_array_get(apps, 0), "script"), want);
  ASSERT_STR_EQ(gets(json_array_get(apps, 0), "cwd"), dir);
  json_decref(apps);
  cleanup();
  apps = NULL;
  ASSERT_ERR(
      muster_appspec_load("/nonexistent/eco.json", NULL, &apps, NULL, &e),
      MUSTER_ENOENT);
  ASSERT_STR_EQ(e.text, "/nonexistent/eco.json: no such file or directory");
  ASSERT_ERR(muster_appspec_load("/tmp", NULL, &apps, NULL, &e), MUSTER_EINVAL);
  ASSERT(apps == NULL);
}

TEST_T(appspec_load_js, 60) {
  json_t *apps = NULL;
  muster_appspec_error_t e;
  write_file("ecosystem.config.js",
             "module.exports = {\n  apps: [{\n    name: 'api',\n"
             "    script: './server.js',\n    instances: 2,\n"
             "    env_production: { NODE_ENV: 'production' }\n  }]\n};\n");
  muster_appspec_options_t o = {.node = "/nonexistent/node"};
  ASSERT_ERR(muster_appspec_load(file, &o, &apps, NULL, &e), MUSTER_ENOSYS);
  ASSERT(strstr(e.text, "needs node") != NULL);
  if (test_which("node") == NULL) {
    cleanup();
    TEST_SKIP("node is not installed");
  }
  o.node = NULL;
  o.env_name = "production";
  ASSERT_OK(muster_appspec_load(file, &o, &apps, NULL, &e));
  ASSERT_EQ(json_array_size(apps), 1);
  json_t *a = json_array_get(apps, 0);
  ASSERT_EQ(geti(a, "instances"), 2);
  ASSERT_STR_EQ(gets(json_object_get(a, "env"), "NODE_ENV"), "production");
  json_decref(apps);
  cleanup();
  write_file("broken.config.js", "module.exports = {\n");
  apps = NULL;
  ASSERT_ERR(muster_appspec_load(file, NULL, &apps, NULL, &e), MUSTER_EINVAL);
  ASSERT(strstr(e.text, "node could not evaluate it") != NULL);
  ASSERT(apps == NULL);
  cleanup();
}

/* The fuzz corpus holds real-world shaped files: the good ones load. */
TEST(appspec_corpus_files) {
  const char *dirname = MUSTER_SOURCE_DIR "/fuzz/corpus/fuzz-appspec/";
  muster_appspec_options_t o = {.base_dir = "/srv", .env_name = "production"};
  muster_appspec_error_t e;
  json_t *apps, *w = json_array();
  char path[512];
  snprintf(path, sizeof path, "%spm2-anchors.yml", dirname);
  ASSERT_OK(muster_appspec_load(path, &o, &apps, w, &e));
  ASSERT_EQ(json_array_size(w), 0);
  json_t *web = json_array_get(apps, 0), *cron = json_array_get(apps, 1);
  ASSERT_EQ(geti(web, "max_restarts"), 5);
  ASSERT_EQ(geti(cron, "min_uptime"), 2000);
  ASSERT_STR_EQ(gets(json_object_get(web, "env"), "LOG_LEVEL"), "info");
  ASSERT_STR_EQ(gets(json_object_get(cron, "env"), "LOG_LEVEL"), "debug");
  json_decref(apps);
  snprintf(path, sizeof path, "%spm2-basic.json", dirname);
  ASSERT_OK(muster_appspec_load(path, &o, &apps, w, &e));
  ASSERT_EQ(json_array_size(w), 2); /* max_memory_restart, cluster mode */
  ASSERT(strstr(json_string_value(json_array_get(w, 0)),
                "pm2-basic.json:8:29: apps[0].max_memory_restart: not "
                "supported") != NULL);
  json_t *worker = json_array_get(apps, 1);
  ASSERT_STR_EQ(gets(worker, "kill_signal"), "SIGINT");
  ASSERT_EQ(json_array_size(json_object_get(worker, "args")), 4);
  ASSERT_STR_EQ(
      gets(json_object_get(json_array_get(apps, 0), "env"), "NODE_ENV"),
      "production");
  json_decref(apps);
  json_decref(w);
  snprintf(path, sizeof path, "%sbad-signal.yaml", dirname);
  ASSERT_ERR(muster_appspec_load(path, &o, &apps, NULL, &e), MUSTER_EINVAL);
  ASSERT_EQ(e.line, 3);
  ASSERT_EQ(e.column, 18);
  ASSERT_STR_EQ(e.attribute, "apps[0].kill_signal");
}

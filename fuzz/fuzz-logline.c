/* Fuzz target for log framing and layout (src/logfile_source.c,
 * src/logfile_format.c): an app's output is outside input. The first byte
 * picks the chunking; the rest is what the app wrote. Checked: the lines a
 * subscriber sees hold every byte but the '\n's, in order, none longer than
 * max_line and none holding a '\n'; and each line's JSON layout parses,
 * with the line itself as the message when it is valid UTF-8. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "logfile_internal.h"
#include "muster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINE 64

typedef struct {
  char *seen;
  size_t len;
  muster__logjson_t json;
} check_t;

static void on_line(muster_logsub_t *sub, const muster_logline_t *l,
                    void *data) {
  check_t *c = data;
  (void)sub;
  if (l->len > MAX_LINE || memchr(l->line, '\n', l->len) != NULL)
    abort();
  memcpy(c->seen + c->len, l->line, l->len);
  c->len += l->len;
  char *out = malloc(muster__logjson_bound(strlen(l->app), l->len));
  size_t n = muster__logjson_write(&c->json, out, l);
  if (n == 0 || out[n - 1] != '\n')
    abort();
  json_error_t e;
  json_t *j = json_loadb(out, n - 1, JSON_ALLOW_NUL, &e); /* "\u0000" is JSON */
  if (j == NULL)
    abort(); /* the layout wrote something that is not JSON */
  json_t *msg = json_object_get(j, "message");
  json_t *raw = json_stringn(l->line, l->len); /* NULL unless UTF-8 */
  if (!json_is_string(msg) || (raw != NULL && !json_equal(msg, raw)))
    abort();
  json_decref(raw);
  json_decref(j);
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  size_t chunk = (size_t)data[0] % 17 + 1;
  data++;
  size--;
  uv_loop_t loop;
  muster_logfile_t *f;
  muster_logsource_t *s;
  muster_logsub_t *sub;
  check_t c = {malloc(size + 1), 0, {0}};
  muster__logjson_free(&c.json);
  muster_logfile_options_t o = {.max_line = MAX_LINE};
  muster_logsource_options_t so = {"fuzz", 1, MUSTER_LOG_ERR};
  uv_loop_init(&loop);
  if (muster_logfile_open(&loop, "/dev/null", &o, &f) != 0 ||
      muster_logsource_open(f, &so, &s) != 0 ||
      muster_logfile_subscribe(f, on_line, &c, &sub) != 0)
    abort();
  for (size_t at = 0; at < size; at += chunk)
    muster_logsource_write(s, data + at, size - at < chunk ? size - at : chunk);
  muster_logsource_close(s);
  muster_logfile_close(f, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    abort();
  /* every byte but the newlines, in order */
  size_t k = 0;
  for (size_t i = 0; i < size; i++)
    if (data[i] != '\n' && (k >= c.len || c.seen[k++] != (char)data[i]))
      abort();
  if (k != c.len)
    abort();
  muster__logjson_free(&c.json);
  free(c.seen);
  return 0;
}

/* Fuzz target for groups.json (manager/daemon/groups_record.c), the record
 * a daemon reads at its start to end what a killed predecessor left
 * running: any bytes give entries that each name a group exactly (pgid >
 * 1, a signal 1 to 31, a bounded kill timeout) or none, never a crash;
 * the entries read encode to a record that reads back the same. The boot
 * id of the corpus's records is "fuzz-boot". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../manager/daemon/groups_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char boot[] = "fuzz-boot";

static int same(const groups_entry_t *a, const groups_entry_t *b, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i].pgid != b[i].pgid || a[i].start != b[i].start ||
        a[i].signo != b[i].signo ||
        a[i].kill_timeout_ms != b[i].kill_timeout_ms)
      return 0;
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  groups_entry_t *v, *again;
  size_t n, m;
  json_error_t je;
  json_t *doc =
      json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
  int r = groups_record_decode(doc, boot, &v, &n);
  json_decref(doc);
  if (r != 0)
    return 0; /* out of memory */
  if ((n == 0) != (v == NULL))
    abort();
  for (size_t i = 0; i < n; i++)
    if (v[i].pgid <= 1 || v[i].signo < 1 || v[i].signo > 31 ||
        v[i].kill_timeout_ms > GROUPS_MAX_RECORD_TIMEOUT_MS ||
        v[i].start > INT64_MAX)
      abort();
  if (n == 0)
    return 0;
  char *text = groups_record_encode(v, n, boot);
  doc = text ? json_loads(text, JSON_REJECT_DUPLICATES, &je) : NULL;
  if (doc == NULL || groups_record_decode(doc, boot, &again, &m) != 0 ||
      m != n || !same(v, again, n))
    abort();
  /* Another boot's record is never read. */
  groups_entry_t *other;
  size_t k;
  if (groups_record_decode(doc, "another-boot", &other, &k) != 0 || k != 0 ||
      other != NULL)
    abort();
  json_decref(doc);
  free(text);
  free(v);
  free(again);
  return 0;
}

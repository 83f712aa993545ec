/* Node's handle protocol, both ends of it (docs/channel.md, "Handles" and
 * "The handle window"): the ACK or NACK we owe for each NODE_HANDLE frame,
 * what an ACK or NACK from the peer does to our handle frames in flight
 * and to the window, and the answers to Node's socket-list queries. */
#include "channel_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"
#include "muster/error.h"

#define MAX_RETRANSMIT 3 /* Node: 4 attempts in all */

/* Our ACK advertises the window. Node's sender looks only at "cmd" (in
 * lib/internal/child_process.js: message.cmd === 'NODE_HANDLE_ACK'), so a
 * Node peer never notices the extra field; a muster sender that sees it
 * may keep that many handle frames in flight. */
static const char ACK_FRAME[] =
    "{\"cmd\":\"NODE_HANDLE_ACK\",\"window\":64,\"batch\":1}\n";
static const char NACK_FRAME[] = "{\"cmd\":\"NODE_HANDLE_NACK\"}\n";
static const char PLAIN_ACK[] = "{\"cmd\":\"NODE_HANDLE_ACK\"}";
static const char WINDOW_ACK[] = "{\"cmd\":\"NODE_HANDLE_ACK\",\"window\":";
static const char BATCH_TAIL[] = ",\"batch\":1}";

_Static_assert(sizeof WINDOW_ACK + sizeof BATCH_TAIL + 2 <=
                   MUSTER__CHAN_ACK_MAX_LEN,
               "the longest ACK ack_fast reads");

/* NACKs in a row are collapsed past a window's worth. Each answers one
 * frame the peer sent without an fd, and a peer that follows the protocol
 * has at most MUSTER__CHAN_MAX_WINDOW handle frames unanswered (Node: 1),
 * and none more until it reads our answers, i.e. until a write of ours
 * took some. More NACKs than that since our last such write answer a
 * peer that floods us without reading: they would only grow our memory
 * (issue 9: 800,000 frames queued 21 MB of them). */
static int nack_collapsed(muster_channel_t *ch) {
  if (ch->nack_run_writes != ch->ctrl_writes) {
    ch->nack_run_writes = ch->ctrl_writes;
    ch->nack_run = 0;
  }
  return ch->nack_run++ >= MUSTER__CHAN_MAX_WINDOW;
}

void muster__chan_ack_reply(muster_channel_t *ch, int ok) {
  if (ok) {
    ch->nack_run = 0;
    muster__chan_out_ctrl(ch, ACK_FRAME, sizeof ACK_FRAME - 1);
  } else if (!nack_collapsed(ch)) {
    muster__chan_out_ctrl(ch, NACK_FRAME, sizeof NACK_FRAME - 1);
  }
}

/* The window an ACK may open: 1 (Node's rule) to MUSTER__CHAN_MAX_WINDOW. */
static size_t clamp_window(size_t window) {
  if (window > MUSTER__CHAN_MAX_WINDOW)
    return MUSTER__CHAN_MAX_WINDOW;
  return window > 1 ? window : 1;
}

/* An ACK (with the window it advertised, 0 for none) or a NACK for the
 * oldest handle frame in flight. */
static void on_ack(muster_channel_t *ch, int ack, size_t window, int batch) {
  muster__chan_block_t *b = muster__chan_out_inflight_pop(ch);
  if (b == NULL) {
    muster__chan_report(ch, MUSTER_EPROTO); /* nobody waits: ignore it */
    return;
  }
  if (ack && !ch->window_off) {
    ch->window = clamp_window(window);
    ch->batch_ok = batch;
  }
  if (!ack) {
    /* A NACK ends the window for good: that peer is losing fds (out of
     * descriptors, MSG_CTRUNC), and one frame at a time is the safe way
     * to go on. */
    ch->window = 1;
    ch->window_off = 1;
    ch->batch_ok = 0;
  }
  /* A resend must not overtake: it is only correct when nothing was
   * written after the frame (always so by Node's rule, where everything
   * waits for this answer). With a window, frames sent behind it were
   * already delivered; resending now would hand this handle over after
   * them, so it is dropped and reported instead. */
  if (!ack && muster__chan_out_was_last(ch, b) && b->retries < MAX_RETRANSMIT) {
    /* Resend the frame as it was (Node's sender wraps it a second time,
     * which makes a Node receiver ACK twice and crash its sender). */
    b->retries++;
    muster__chan_out_resend(ch, b);
  } else {
    muster__chan_out_block_free(ch, b); /* closes our copy of the fd */
    if (!ack) /* given up after 4 attempts, or overtaken */
      muster__chan_report(ch, MUSTER_EPROTO);
  }
  muster__chan_out_schedule(ch);
}

int muster__chan_ack_fast(muster_channel_t *ch, const char *line, size_t len) {
  size_t p = sizeof WINDOW_ACK - 1;
  if (len == sizeof PLAIN_ACK - 1 && memcmp(line, PLAIN_ACK, len) == 0) {
    on_ack(ch, 1, 0, 0);
    return 1;
  }
  if (len < p + 2 || memcmp(line, WINDOW_ACK, p) != 0)
    return 0;
  /* The digits, then "}" or our ',"batch":1}'. */
  size_t end = p, win = 0;
  while (end < len && end < p + 3 && line[end] >= '0' && line[end] <= '9')
    win = win * 10 + (size_t)(line[end++] - '0');
  if (end == p || (line[p] == '0' && end - p > 1))
    return 0; /* not JSON, or not ours: the slow path sorts it out */
  int batch = 0;
  if (len - end == sizeof BATCH_TAIL - 1 &&
      memcmp(line + end, BATCH_TAIL, len - end) == 0)
    batch = 1;
  else if (len - end != 1 || line[end] != '}')
    return 0;
  on_ack(ch, 1, win, batch);
  return 1;
}

void muster__chan_ack_parsed(muster_channel_t *ch, const char *cmd,
                             const json_t *j) {
  json_t *w = json_object_get(j, "window");
  json_t *bt = json_object_get(j, "batch");
  json_int_t win = json_is_integer(w) ? json_integer_value(w) : 0;
  on_ack(ch, strcmp(cmd, "NODE_HANDLE_ACK") == 0,
         win <= 0                        ? 0
         : win > MUSTER__CHAN_MAX_WINDOW ? MUSTER__CHAN_MAX_WINDOW
                                         : (size_t)win,
         json_is_integer(bt) && json_integer_value(bt) == 1);
}

/* Node's socket-list queries are about sockets it sent us: a received fd
 * is the user's, untracked, so the answer is "none left" (which lets a
 * Node parent's server.close(cb) and getConnections(cb) complete). The
 * answer is a control reply, as an ACK: it counts in the backlog that
 * stops reading, and it is not a user's send (it never earns on_drain). */
void muster__chan_ack_socket_list(muster_channel_t *ch, const char *cmd,
                                  const json_t *j) {
  json_t *reply = NULL;
  json_t *key = json_object_get(j, "key");
  if (strcmp(cmd, "NODE_SOCKET_GET_COUNT") == 0)
    reply = json_pack("{s:s, s:O?, s:i}", "cmd", "NODE_SOCKET_COUNT", "key",
                      key, "count", 0);
  else if (strcmp(cmd, "NODE_SOCKET_NOTIFY_CLOSE") == 0)
    reply =
        json_pack("{s:s, s:O?}", "cmd", "NODE_SOCKET_ALL_CLOSED", "key", key);
  if (reply == NULL)
    return;
  struct muster__buf b = {NULL, 0, 0};
  int err = muster__json_write(reply, &b, SIZE_MAX);
  json_decref(reply);
  if (err == 0)
    err = muster__buf_put1(&b, '\n');
  if (err == 0)
    muster__chan_out_ctrl(ch, b.data, b.len);
  free(b.data); /* on ENOMEM the query goes unanswered, as a lost ACK */
}

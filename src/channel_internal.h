/* The channel's parts and the object they share. One idea a file, layered
 * bottom up; a lower file never calls a higher one:
 *
 *   channel_out.c  the output queue: frames, control replies, the write
 *                  of as much as the socket takes (muster__chan_out_*)
 *   channel_ack.c  Node's handle protocol: ACK/NACK, the window, the
 *                  socket-list replies (muster__chan_ack_*)
 *   channel_in.c   receive: reads, fds, lines, delivery (muster__chan_in_*)
 *   channel.c      the public API and the life cycle: open, poll, flush,
 *                  end, close
 *
 * Below them: channel_frame.c (receive framing), handle.c (what an fd is),
 * message.c (the delivered message), json_*.c. A lower file that needs the
 * higher one to act reports it through a result (muster__chan_in_read
 * asks for the channel's end) or through ch->flush, the one function
 * pointer channel.c gives: the output queue's scheduled flush. */
#ifndef MUSTER_CHANNEL_INTERNAL_H
#define MUSTER_CHANNEL_INTERNAL_H

#include <stdint.h>
#include <uv.h>

#include "channel_frame.h"
#include "muster/channel.h"

/* Handle frames a muster sender may have unacknowledged once the peer's
 * ACK advertised a window (docs/channel.md, "The handle window"); also the
 * most fds a receiver holds for frames still to come. */
#define MUSTER__CHAN_MAX_WINDOW 64

/* ---- channel_out.c: the queue's pieces ---------------------------------- */

/* A run of output bytes. Small frames share a block; a frame that carries
 * a handle has one of its own. */
typedef struct muster__chan_block_s {
  struct muster__chan_block_s *next;
  char *data;
  size_t len, off, cap;
  int fd;        /* a handle to send with the first byte, or -1 */
  int fd_sent;   /* this attempt's fd went out */
  int coalesce;  /* small frames may be appended */
  int uncounted; /* a retransmission: bytes do not advance written_pos */
  int retries;
  uint64_t seq; /* ch->tx_seq when its last byte was written */
} muster__chan_block_t;

/* A send whose callback waits for its last byte to be written. */
typedef struct {
  uint64_t end; /* the counted stream position of the frame's last byte */
  muster_send_cb cb;
  void *arg;
} muster__chan_req_t;

enum { MUSTER__CHAN_OPEN, MUSTER__CHAN_DISCONNECTING, MUSTER__CHAN_ENDED };

struct muster_channel_s {
  uv_loop_t *loop;
  int fd;
  int state; /* MUSTER__CHAN_* */
  int user_closed;
  int handles_open; /* uv handles not yet closed */
  int poll_events;
  int flush_scheduled;
  int in_flush;
  int need_drain; /* a user's send returned 1: on_drain is owed */
  uv_poll_t poll;
  uv_idle_t idle;
  uv_check_t check;
  muster_channel_options_t opt;
  muster_channel_close_cb close_cb;
  void (*end_hook)(void *);
  void *end_hook_arg;
  void (*flush)(muster_channel_t *); /* channel.c's; ch->idle/check call it */

  /* receive (channel_in.c) */
  muster__frame_reader_t rx;
  int *fds; /* FIFO of received fds no message claimed yet */
  size_t fds_head, fds_len, fds_cap;
  int fd_reads_idle; /* reads after an fd's read found nothing, in a row */
  unsigned fd_reads_skipped;
  int value_asked; /* the last user message's value was asked for */

  /* send (channel_out.c); the window fields are set by channel_ack.c */
  muster__chan_block_t *head, *tail;              /* data frames, in order */
  muster__chan_block_t *inflight, *inflight_tail; /* awaiting ACKs, FIFO */
  size_t inflight_count;
  size_t window;   /* handle frames allowed in flight: 1 is Node's rule */
  int window_off;  /* a NACK came: Node's rule for good */
  int batch_ok;    /* the peer's last ACK offered batches ("batch":1) */
  uint64_t tx_seq; /* data blocks written in full so far */
  muster__chan_block_t *spare;
  char *ctrl; /* control replies (ACK/NACK...), which may pass held data */
  size_t ctrl_len, ctrl_off, ctrl_cap;
  uint64_t ctrl_writes;     /* writes that took control reply bytes */
  size_t nack_run;          /* NACKs queued since, in a row (channel_ack.c) */
  uint64_t nack_run_writes; /* ctrl_writes when nack_run was counted */
  uint64_t queued_pos, written_pos;
  muster__chan_req_t *reqs;
  size_t reqs_head, reqs_len, reqs_cap;
};

/* on_error(err), unless the user closed the channel. */
static inline void muster__chan_report(muster_channel_t *ch, int err) {
  if (ch->opt.on_error && !ch->user_closed)
    ch->opt.on_error(ch, err);
}

/* ---- channel_out.c ------------------------------------------------------ */

/* Queues one frame: `text` (len bytes, trusted) or `json`, with handle_fd
 * when >= 0 (classified here). Result and errors as muster_channel_send().
 * Schedules a flush. */
int muster__chan_out_send(muster_channel_t *ch, const char *text, size_t len,
                          const json_t *json, int handle_fd,
                          const muster_send_options_t *opts, muster_send_cb cb,
                          void *arg);
/* Queues a control reply (whole frames, '\n' included), which leaves at
 * the next frame boundary of the data, ahead of held frames. */
void muster__chan_out_ctrl(muster_channel_t *ch, const char *frames, size_t n);
/* Control reply bytes not yet written. */
size_t muster__chan_out_ctrl_backlog(const muster_channel_t *ch);
/* Bytes waiting: data (a retransmission counts once) and control
 * replies. */
size_t muster__chan_out_size(const muster_channel_t *ch);
/* Something may be written now (what the poll waits for). */
int muster__chan_out_pending(const muster_channel_t *ch);
/* Nothing left to write and no handle awaiting its ACK. */
int muster__chan_out_idle(const muster_channel_t *ch);
/* Writes as much as the socket takes, completing sends as their last
 * bytes go. 0, or the write's error (the caller ends the channel). */
int muster__chan_out_write(muster_channel_t *ch);
void muster__chan_out_schedule(muster_channel_t *ch);
void muster__chan_out_unschedule(muster_channel_t *ch);
/* Drops every queued byte (closing the handles the channel owns). */
void muster__chan_out_drop(muster_channel_t *ch);
/* Fails every send not yet completed with `status`, in order
 * (MUSTER_ECANCELED for all once the user closed the channel). */
void muster__chan_out_fail_sends(muster_channel_t *ch, int status);
/* Frees what the queue keeps after muster__chan_out_drop. */
void muster__chan_out_free(muster_channel_t *ch);

/* The handle frames in flight, for channel_ack.c: the oldest is taken
 * off, then either resent (put back at the head of the queue, as it was)
 * or freed (closing its fd). */
muster__chan_block_t *muster__chan_out_inflight_pop(muster_channel_t *ch);
/* Nothing was written after b (a resend would not overtake anything). */
int muster__chan_out_was_last(const muster_channel_t *ch,
                              const muster__chan_block_t *b);
void muster__chan_out_resend(muster_channel_t *ch, muster__chan_block_t *b);
void muster__chan_out_block_free(muster_channel_t *ch, muster__chan_block_t *b);

/* ---- channel_ack.c ------------------------------------------------------ */

/* The longest ACK muster__chan_ack_fast takes. */
#define MUSTER__CHAN_ACK_MAX_LEN 64
/* An ACK exactly as muster or Node writes it, read without jansson: 1
 * when line[0..len) was one (and was handled). */
int muster__chan_ack_fast(muster_channel_t *ch, const char *line, size_t len);
/* A parsed NODE_HANDLE_ACK or NODE_HANDLE_NACK (cmd), message j. */
void muster__chan_ack_parsed(muster_channel_t *ch, const char *cmd,
                             const json_t *j);
/* Answers a received NODE_HANDLE frame: ACK (ok) or NACK. */
void muster__chan_ack_reply(muster_channel_t *ch, int ok);
/* Answers Node's socket-list query `cmd` (NODE_SOCKET_GET_COUNT or
 * NODE_SOCKET_NOTIFY_CLOSE), message j. */
void muster__chan_ack_socket_list(muster_channel_t *ch, const char *cmd,
                                  const json_t *j);

/* ---- channel_in.c ------------------------------------------------------- */

/* Reads what the socket holds (up to a limit a wake-up) and delivers it.
 * `drain`: read on up to the limit whatever the reads say (before an
 * end). 1 when the channel must end, with *reason for on_disconnect. */
int muster__chan_in_read(muster_channel_t *ch, int drain, int *reason);
/* Reading waits: the control replies we owe the peer are over the
 * high-water mark (it does not read them), so what it sends stays in the
 * kernel's buffers, not in our memory. */
int muster__chan_in_paused(const muster_channel_t *ch);
/* Closes the received fds no message claimed. */
void muster__chan_in_close_fds(muster_channel_t *ch);
void muster__chan_in_free(muster_channel_t *ch);

#endif

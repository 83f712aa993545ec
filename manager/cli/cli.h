/* The CLI: argv → one request → the reply printed. */
#ifndef MANAGER_CLI_H
#define MANAGER_CLI_H

#include <jansson.h>
#include <stdint.h>
#include <muster/client.h>

#include "../home.h"

/* Exit statuses. */
#define CLI_OK 0
#define CLI_FAIL 1  /* the daemon refused or the command failed */
#define CLI_USAGE 2 /* bad command line */

typedef struct {
  home_t home;
  int timeout_ms;
  int color; /* stdout is a terminal */
  muster_client_t *client;
} cli_t;

int cli_main(int argc, char **argv);

/* Connects, starting the daemon when none answers. Prints why on failure
 * and returns CLI_FAIL. */
int cli_connect(cli_t *cli);
/* One request; prints "muster: <message>" for an error reply or a failed
 * call. Returns CLI_OK with *result (may be NULL when not wanted), or
 * CLI_FAIL. A read (ping, list, describe) whose reply is lost with its
 * daemon (cli_connect.c) is asked once more of the next daemon. */
int cli_call(cli_t *cli, muster_client_cmd_t cmd, json_t *args,
             json_t **result);
/* 1 when r says the daemon went away under a call (the connection closed
 * or reset before the whole reply). */
int cli_lost(int r);
/* Waits until no daemon holds the home's lock (deadline in cli_now_ms()
 * time; 0 only looks once). Returns 0, or -1 at the deadline. */
int cli_wait_gone(const cli_t *cli, int64_t deadline);
/* As cli_wait_gone() for the daemon of pid `pid` (as its lock file says;
 * 0: any): it is gone too once another daemon holds the lock. */
int cli_wait_pid_gone(const cli_t *cli, int pid, int64_t deadline);
/* CLOCK_MONOTONIC in milliseconds. */
int64_t cli_now_ms(void);
/* "muster: ..." on stderr, and CLI_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses a non-negative integer option value; CLI_USAGE on error. */
int cli_number(const char *opt, const char *s, long long max, long long *out);
/* The CLI's environment as an object. */
json_t *cli_environ(void);

/* Command families. */
int cli_start(cli_t *cli, int argc, char **argv);
int cli_ls(cli_t *cli, int argc, char **argv);
int cli_jlist(cli_t *cli, int argc, char **argv);
int cli_describe(cli_t *cli, int argc, char **argv);
int cli_env(cli_t *cli, int argc, char **argv);
int cli_logs(cli_t *cli, int argc, char **argv);
/* Prints the table of `list`: the reply of a list with {"fields":
 * "rows"}, or a jlist array (what a daemon older than the row view
 * answers). CLI_FAIL, with a message, when it is neither. */
int cli_print_table(cli_t *cli, const json_t *list);
/* "[muster] <verb> <name> (id N)" for each app of a reply's array. */
int cli_print_acted(const char *verb, const json_t *result);

#endif

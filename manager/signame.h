/* Signal names as users write them: "SIGTERM", "TERM", "term", "15". */
#ifndef MANAGER_SIGNAME_H
#define MANAGER_SIGNAME_H

/* The signal number, or -1 when `s` names no signal (1..31). */
int signame_parse(const char *s);

#endif

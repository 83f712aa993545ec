/* placeholder: being written */
#ifndef MUSTER_FORK_H
#define MUSTER_FORK_H
#include "common.h"
#endif

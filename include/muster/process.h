/* placeholder: being written */
#ifndef MUSTER_PROCESS_H
#define MUSTER_PROCESS_H
#include "common.h"
#endif

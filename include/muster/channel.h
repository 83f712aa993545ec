/* placeholder: being written */
#ifndef MUSTER_CHANNEL_H
#define MUSTER_CHANNEL_H
#include "common.h"
#endif

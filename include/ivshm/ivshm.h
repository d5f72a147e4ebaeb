/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libivshm, the whole public API for host programs:
 *
 *   status.h   statuses, struct ivshm_error, the return convention
 *   layout.h   the segment ABI (version 1): structs, constants, arithmetic
 *   segment.h  validation and object lookup; segment files (attach, destroy, list)
 *   builder.h  creating a segment file
 *   ring.h     rings of 64-bit entries
 *   mempool.h  pools of fixed-size objects
 *   party.h    the party table
 *   qemu.h     the QEMU arguments that attach segments to a VM
 *   fwd.h      the forwarding module (preset, ctrl block, frames, loop)
 *   notify.h   wake requests: sleeping on a ring
 *   doorbell.h doorbells: a client of the doorbell server (`ivshm serve`)
 *
 * Link with -livshm (which needs -lnuma). Guest programs include the headers
 * they need through guest_rt/guest.h instead.
 */
#ifndef IVSHM_IVSHM_H
#define IVSHM_IVSHM_H

#include "builder.h"
#include "doorbell.h"
#include "fwd.h"
#include "layout.h"
#include "mempool.h"
#include "notify.h"
#include "party.h"
#include "qemu.h"
#include "ring.h"
#include "segment.h"
#include "status.h"

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Result codes shared by the host library and the guest runtime. Functions
 * return IVSHM_OK (0) or one of the negative codes below; where a caller needs
 * the details, an ivshm_error carries a one-line message naming the thing and
 * the reason. Freestanding C.
 */
#ifndef IVSHM_STATUS_H
#define IVSHM_STATUS_H

enum ivshm_status {
    IVSHM_OK = 0,
    IVSHM_E_INVAL = -1,        /* an argument is out of range or malformed */
    IVSHM_E_NOSPC = -2,        /* the object does not fit in the segment or directory */
    IVSHM_E_EXIST = -3,        /* an object or segment of that name exists already */
    IVSHM_E_NOENT = -4,        /* no object or segment of that name */
    IVSHM_E_NOBUFS = -5,       /* ring full, ring empty, or mempool exhausted */
    IVSHM_E_NOTSEG = -6,       /* the memory does not start with the ivshm magic */
    IVSHM_E_VERSION = -7,      /* an ivshm segment of another ABI version */
    IVSHM_E_BADSEG = -8,       /* an ivshm segment whose metadata fails validation */
    IVSHM_E_CORRUPT = -9,      /* a peer left inconsistent state in shared memory */
    IVSHM_E_DOUBLE_FREE = -10, /* mempool put of an object that is not allocated */
    IVSHM_E_FOREIGN = -11,     /* mempool put of a handle that is not one of the pool's */
    IVSHM_E_SYSTEM = -12,      /* an operating-system call failed (host only; see errno) */
    IVSHM_E_PARTIES = -13,     /* the party table is full */
    IVSHM_E_TIMEOUT = -14,     /* a wait on a peer exceeded its bound */
};

/* A one-line explanation: "<thing>: <reason>". */
struct ivshm_error {
    int code;
    char msg[160];
};

/* Short static text for a code, e.g. "ring full or empty". */
const char *ivshm_strerror(int code);

#endif

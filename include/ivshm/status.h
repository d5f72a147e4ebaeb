/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Status codes and error messages, shared by the host library and the guest
 * runtime. Freestanding C.
 *
 * The rules every header of this API follows:
 *
 * 1. A function that can fail returns int: IVSHM_OK (0) or a negative
 *    enum ivshm_status, and fills *err (err may be NULL) with one line
 *    "<thing>: <reason>" naming the values at fault. Three kinds of function
 *    are exceptions, each marked in its header: hot-path ring operations
 *    return how many entries they moved; pure queries return their value
 *    (bool predicates, counts, names); release and detach functions return
 *    void because they cannot fail.
 * 2. One name per operation, the same verb on host and guest: an object is
 *    found with *_lookup on both sides.
 * 3. Names starting with ivshm__ (two underscores) are internals of the
 *    inline hot paths, never API.
 */
#ifndef IVSHM_STATUS_H
#define IVSHM_STATUS_H

enum ivshm_status {
    IVSHM_OK = 0,
    IVSHM_E_INVAL = -1,        /* an argument is out of range or malformed */
    IVSHM_E_NOSPC = -2,        /* not enough memory or hugepages, or an output buffer too small */
    IVSHM_E_EXIST = -3,        /* an object or segment of that name exists already */
    IVSHM_E_NOENT = -4,        /* no object or segment of that name */
    IVSHM_E_NOBUFS = -5,       /* ring full, ring empty, or mempool exhausted */
    IVSHM_E_NOTSEG = -6,       /* the memory does not start with the ivshm magic */
    IVSHM_E_VERSION = -7,      /* an ivshm segment of another ABI version */
    IVSHM_E_BADSEG = -8,       /* an ivshm segment whose metadata fails validation */
    IVSHM_E_CORRUPT = -9,      /* a peer left inconsistent state in shared memory */
    IVSHM_E_DOUBLE_FREE = -10, /* mempool put of an object that is not allocated */
    IVSHM_E_FOREIGN = -11,     /* mempool put of a handle that is not one of the pool's */
    IVSHM_E_SYSTEM = -12,      /* an operating-system call failed (host only) */
    IVSHM_E_PARTIES = -13,     /* the party table is full */
    IVSHM_E_TOOBIG = -14,      /* the objects do not fit in the segment (or its directory) */
    IVSHM_E_TIMEOUT = -15,     /* a wait on a peer exceeded its bound */
};

/* One line, "<thing>: <reason>", and the status it goes with. */
struct ivshm_error {
    int code;
    char msg[160];
};

/* Short static text for a status, e.g. "ring full or empty, or mempool
 * exhausted"; "unknown error" for a value not in enum ivshm_status. */
const char *ivshm_strerror(int status);

#endif

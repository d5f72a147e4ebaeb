/* SPDX-License-Identifier: BSD-3-Clause */
/* Doorbells and adaptive mode for ivshm-fwd, pktgen and ivshm-port (doorbells.h). */
#include <limits.h>
#include <stdio.h>

#include "common/internal.h"
#include "host/cli/doorbells.h"
#include "ivshm/doorbell.h"
#include "ivshm/notify.h"

int cli_parse_fwd_mode(void *opts, const struct cli_option *option, const char *value)
{
    enum ivshm_fwd_mode *mode = (enum ivshm_fwd_mode *)((char *)opts + option->offset);
    if (ivshm_fwd_mode_parse(value, mode, NULL) != IVSHM_OK || *mode == IVSHM_FWD_MODE_AUTO)
        return cli_fail(CLI_EXIT_USAGE, "%s '%s': must be poll or adaptive", option->name, value);
    return CLI_EXIT_OK;
}

int cli_doorbell_connect(const char *dir, const char *name, const char *socket, bool needed,
                         struct ivshm_doorbell **db, struct ivshm_error *err)
{
    char path[PATH_MAX];
    *db = NULL;
    if (socket)
        snprintf(path, sizeof(path), "%s", socket);
    else {
        int rc = ivshm_doorbell_socket_path(dir, name, path, sizeof(path), err);
        if (rc)
            return rc;
    }
    int rc = ivshm_doorbell_connect(path, NULL, db, err);
    if (rc == IVSHM_E_NOENT && needed)
        return ivshm_fail(err, rc, "%s: no doorbell server (mode adaptive needs `ivshm serve %s`)",
                          name, name);
    return rc == IVSHM_E_NOENT && !socket ? IVSHM_OK : rc;
}

bool cli_doorbell_wake(struct ivshm_doorbell *db, struct ivshm_ring *ring)
{
    if (!db)
        return false;
    uint32_t w = ivshm_ring_wake_needed(ring, IVSHM_WAKE_CONSUMER);
    if (IVSHM_LIKELY(!w))
        return false;
    ivshm_doorbell_ring(db, ivshm_wake_peer(w), ivshm_wake_vector(w), NULL);
    return true;
}

#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The standing scribbler test of `make test` (test-hostile-scribble): the
# runner over every region with the host forwarder, a few seconds each, and
# `ivshm repair` plus one clean pktgen after each (run_scribble.py --repair).
# HOSTILE_SHORT_ARGS (set by hostile.mk) gives its options.
# shellcheck disable=SC2086 # the options are words
exec tests/hostile/run_scribble.py ${HOSTILE_SHORT_ARGS:---seconds 2 --repair}

/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The guardian's state, as the recorder sees it (private).
 */
#ifndef SA_EMU_GUARD_H
#define SA_EMU_GUARD_H

#include <stdbool.h>

/* In a guardian process: whether it must restore its targets and detach
 * now (its parent died, or it got SIGTERM, SIGINT, SIGHUP, SIGQUIT).
 * Always false in any other process.  Async-signal-safe.
 */
bool sa_emu_guard_tripped(void);

#endif /* SA_EMU_GUARD_H */

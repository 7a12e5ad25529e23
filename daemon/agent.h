/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * agent.h -- the mailbox agent: runs as the mail user, serves one
 * session at a time, and may serve later sessions of the same uid.
 */
#ifndef SATCHEL_AGENT_H
#define SATCHEL_AGENT_H

struct satcheld;

/*
 * In a spare forked by the agent spawner (still root): wait on ctl for
 * AGENT_START, drop to the user it names, serve the worker's socket it
 * carries; then report idle and wait for the next session of the same
 * uid, gid and groups.  Never returns.
 */
void	 agent_main(int ctl, struct satcheld *s) __attribute__((noreturn));

#endif /* SATCHEL_AGENT_H */

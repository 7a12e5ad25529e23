/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * agent.h -- the mailbox agent: runs as the mail user, serves one
 * session at a time, and may serve later sessions of the same uid.
 */
#ifndef SATCHEL_AGENT_H
#define SATCHEL_AGENT_H

struct module;
struct msg_agent_start;
struct satcheld;

/*
 * In a spare forked by the agent spawner (still root): wait on ctl for
 * AGENT_START, drop to the user it names, serve the worker's socket it
 * carries; then report idle and wait for the next session of the same
 * uid, gid and groups.  Never returns.
 */
void	 agent_main(int ctl, struct satcheld *s) __attribute__((noreturn));
/*
 * One session, already as the mail user: open st->path with storage
 * module mod, say HELLO on sock, answer the worker's requests from the
 * request table until commit or EOF, then free and wipe everything.
 * home_create: make a missing home (mail_home_create).
 * For agent_main, and for tests/fuzz/fuzz_agentreq.c (a stub module).
 */
void	 agent_session(int sock, struct module *mod,
	    const struct msg_agent_start *st, int home_create);

#endif /* SATCHEL_AGENT_H */

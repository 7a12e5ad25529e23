/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * control.h -- the master's control socket, for satchelctl(8).  Runs in
 * the master, as root.
 */
#ifndef SATCHEL_CONTROL_H
#define SATCHEL_CONTROL_H

struct satcheld;

/* The longest command line satchelctl sends, without the newline. */
#define CONTROL_LINE_MAX	512

/*
 * Bind the control socket (conf_control_path(): control_socket, or
 * beside the pidfile), mode 0600, owner root, into s->control_fd.  A
 * stale socket is replaced; one a running master answers on is an
 * error.  0, or -1 (logged, naming the path).
 */
int	 control_open(struct satcheld *s);
/* Remove it at shutdown. */
void	 control_close(struct satcheld *s);
/*
 * The control socket is readable: accept one admin connection (uid 0
 * only, by SO_PEERCRED), read its one command line and answer it.  For
 * "auth-test" and "user" the connection goes on to the auth pool,
 * which answers it itself (auth_ctl.c): the master never reads the
 * password.
 */
void	 control_accept(struct satcheld *s);
/*
 * Workers whose agent met the session lock with lock_conflict =
 * takeover set slot->takeover and poke the wake pipe: end the older
 * session of the same user (scoreboard), logging both sessions.
 */
void	 control_takeovers(struct satcheld *s);

#endif /* SATCHEL_CONTROL_H */

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * proxy.h -- proxy mode, the worker's side: log in at the user's
 * backend POP3 server over the socket the auth pool connected, then
 * relay the session byte for byte (see proxy.c).  proxy_configure()
 * runs in the master; the rest in the worker, unprivileged, chrooted.
 */
#ifndef SATCHEL_PROXY_H
#define SATCHEL_PROXY_H

struct auth_result;
struct config;
struct session;

/*
 * Master, at start and on reload, before any fork: the TLS client
 * context for ssl=yes|starttls backends, trusting proxy_ssl_ca_file
 * (none when unset: ssl= users then fail, logged).  The CA file is
 * read here, so the chrooted, sandboxed worker never opens a file.
 * 0, or -1 (logged, naming the file).
 */
int	 proxy_configure(const struct config *cf);

/*
 * Worker, after the auth pool said OK with res->proxy set: res->agent_fd
 * is a socket connected to the backend (taken over here).  password is
 * the client's, sent to the backend and not kept.  Answers the client
 * (the backend's own +OK, or -ERR), relays until either side closes or
 * the idle timeout passes.  Returns CMD_CLOSE when the session is over,
 * CMD_OK when the client may try again (the backend refused the login),
 * or -1 on a write error to the client.
 */
int	 proxy_session(struct session *s, struct auth_result *res,
	    const char *password);

#endif /* SATCHEL_PROXY_H */

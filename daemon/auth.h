/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth.h -- the auth process (root, auth.c) and the worker's client
 * side of the auth pool (authc.c, unprivileged).
 */
#ifndef SATCHEL_AUTH_H
#define SATCHEL_AUTH_H

#include <stdint.h>

#include "satchel/module.h"
#include "msg.h"

struct satcheld;

/* In the auth child right after fork.  Never returns. */
void	 auth_main(struct satcheld *s) __attribute__((noreturn));

struct auth_result {
	uint32_t	 result;		/* SATCHEL_AUTH_* */
	uint32_t	 login_delay;		/* LOGIN-DELAY for this user */
	char		 user[SATCHEL_USER_MAX + 1];	/* canonical */
	char		 data[MSG_DATA_MAX];	/* SCRAM server-final */
	int		 agent_fd;		/* on OK */
	/* Proxy mode (AUTH_PROXY): agent_fd is the backend's socket. */
	int		 proxy;
	uint32_t	 proxy_ssl;		/* SATCHEL_PROXY_SSL_* */
	int		 proxy_haproxy;		/* send a PROXY v2 header */
	char		 proxy_host[SATCHEL_HOST_MAX + 1];
	char		 proxy_destuser[SATCHEL_USER_MAX + 1];
	char		 proxy_addr[MSG_ADDR_MAX];
	/* Issue 14: the pool logged in there with a master user. */
	int		 proxy_loggedin;
	char		 proxy_okline[MSG_DATA_MAX];
};

/*
 * Worker side.  A login is one connection to the pool: authc_connect(),
 * for APOP and CRAM-MD5 first authc_challenge() (the pool makes the
 * challenge and takes one answer to it on this connection), then
 * authc_request() with the client's socket (the pool reads the client
 * address from it; master non-NULL and not "" for a master user login,
 * user being the target), for SCRAM authc_continue() and authc_scram_final(),
 * and last authc_result(), which closes the connection.  The pool
 * delays a failure's answer itself.  -1 means the pool could not be
 * reached or broke the protocol (the caller answers [SYS/TEMP]).
 */
int	 authc_connect(const struct satcheld *d);
int	 authc_challenge(int fd, uint32_t mech, char *out, size_t outsz);
int	 authc_request(int fd, uint32_t mech, const char *user,
	    const char *master, const char *secret, const char *session,
	    int tls, int client_fd);
/* Some module of the chain is a master passdb (master = yes). */
int	 authc_master_enabled(struct satcheld *d);
int	 authc_continue(int fd, char *out, size_t outsz);
int	 authc_scram_final(int fd, const char *msg);
int	 authc_result(int fd, struct auth_result *res);
/* Clear the reply buffers (between sessions of a reused worker). */
void	 authc_wipe(void);
/*
 * On a haproxy listener: the client's real address and the address it
 * reached, from the PROXY header, sent with every request of this
 * session (the pool believes them only for a connection it can tell is
 * on a haproxy listener from a trusted proxy).  NULL or "" for none;
 * authc_wipe() forgets them.
 */
void	 authc_set_origin(const char *client, const char *local);

#endif /* SATCHEL_AUTH_H */

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * key.h -- the key process: the only process that holds the TLS private
 * keys.  The master forks it (key_spawn) once per configuration
 * generation; it reads the tls_key and tls_sni key files as root, sends
 * the master their public halves, drops to worker_user (chroot,
 * NO_NEW_PRIVS, not dumpable) and then answers workers' private-key
 * operations on an abstract SOCK_SEQPACKET socket (keyproto.h).  Workers
 * reach it through the proxy keys of tls_proxy.c.
 */
#ifndef SATCHEL_KEY_H
#define SATCHEL_KEY_H

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <time.h>

#include "keyproto.h"

struct config;
struct satcheld;

struct key_proc {
	pid_t			 pid;		/* -1: none */
	pid_t			 parent;	/* who forked it (atexit) */
	time_t			 started;	/* last fork */
	int			 ctl;		/* master's end, -1 */
	struct sockaddr_un	 addr;		/* abstract name */
	socklen_t		 addrlen;
	size_t			 nkeys;
	void			*pub[KEY_KEYS_MAX];	/* EVP_PKEY, public */
	struct key_proc		*next;		/* live list */
};

/*
 * Master (root): fork the key process for s->cf's keys (tls_key, then
 * each tls_sni) and wait until it has loaded them.  0, with kp->pub[]
 * set; or -1 after the key process logged "file:line: key 'k': ..."
 * (or the master logged why it could not start it).
 */
int	 key_spawn(struct satcheld *s, struct key_proc *kp);
/*
 * Master: this generation is over (reload, or configuration dropped).
 * The key process keeps answering for a grace period, for workers of
 * the old generation still in a handshake, then exits.  Frees pub[].
 */
void	 key_retire(struct key_proc *kp);
/* Master: kp's process is gone for good (SIGTERM).  Frees pub[]. */
void	 key_kill(struct key_proc *kp);
/*
 * In every child the master forks: close the master's ends of the key
 * processes' control sockets, so that only the master holds them.
 */
void	 key_close_inherited(void);
/* The line of the n-th top-level key k in cf, for "file:line:"; 0. */
int	 key_conf_line(struct config *cf, const char *k, size_t n);
/*
 * Master, each second: note its pid (after daemon(), for the atexit
 * check) and restart a key process that died (key_reaped), at most every
 * 5 s, with the keys it had: a key changed on disk waits for SIGHUP.
 */
void	 key_tick(struct satcheld *s);
/* Master: a child exited that is not in the master's table. */
void	 key_reaped(pid_t pid, int status);

/* The key process's main loop (key.c, static); for tests: */
#define KEY_CLIENTS_MAX		1000
#define KEY_GRACE_S		120	/* after retire, plus timeout_preauth */

/* key.c, for master_key.c: the key process itself, and its helpers. */
void	 key_child(struct satcheld *s, struct key_proc *kp, int ctl)
	    __attribute__((noreturn));
const char *key_ssl_error(void);
/*
 * Why a PEM file did not give a usable what ("certificate", "private
 * key"), in words for satcheld -t and the log, never OpenSSL's raw
 * "error:0480006C:..." codes.  Clears the error queue; static storage.
 */
const char *key_file_error(const char *what);
int	 key_conf_line(struct config *cf, const char *key, size_t n);

#endif /* SATCHEL_KEY_H */

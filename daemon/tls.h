/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls.h -- TLS with OpenSSL: implicit TLS listeners (RFC 8314) and STLS
 * (RFC 2595).  The master reads the certificates and builds the
 * contexts before it forks (master_tls.c); the private keys are read and
 * kept only by the key process (key.c), and the contexts hold
 * public-only proxy keys (tls_proxy.c).  Workers inherit the contexts,
 * run the handshake and the transport (tls.c), and never open a
 * certificate or key file (they run chrooted as the worker user).
 * Session tickets are encrypted with keys the master makes and rotates,
 * so a session resumes on any worker (doc/DESIGN says why those stay in
 * the workers).
 */
#ifndef SATCHEL_TLS_H
#define SATCHEL_TLS_H

struct conn;
struct satcheld;

/* master_tls.c, master: build s->tls from s->cf.  0, or -1 naming the file (logged). */
int	 tls_configure(struct satcheld *s);
/* Master, reload: take n's contexts into s, free s's old ones. */
void	 tls_swap(struct satcheld *s, struct satcheld *n);
void	 tls_free(struct satcheld *s);
/* Master, once a second: make a new ticket key when it is time. */
void	 tls_tick(struct satcheld *s);
/* tls.c from here on, worker.  True when TLS is configured (STLS). */
int	 tls_enabled(const struct satcheld *s);
/*
 * Worker: handshake on c->fd, within timeout_ms, then route c's I/O
 * through TLS.  0, or -1 with *err_r set (static text).
 */
int	 tls_accept(struct satcheld *s, struct conn *c, int timeout_ms,
	    const char **err_r);
/* "TLSv1.3/TLS_AES_256_GCM_SHA384" for logs, or "no". */
const char *tls_describe(struct conn *c);
/*
 * OpenSSL over a non-blocking socket as a struct conn transport (io.h),
 * for any SSL in c->tls: the client's sessions, and proxy.c's TLS to a
 * backend.
 */
extern const struct conn_transport tls_transport;

#endif /* SATCHEL_TLS_H */

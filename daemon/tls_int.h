/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_int.h -- what the master's part of TLS (master_tls.c) and the
 * worker's transport (tls.c) share: the contexts the master builds and
 * the worker inherits at fork, the ticket keys, and the two callbacks
 * the master installs in each SSL_CTX and OpenSSL calls in the worker,
 * inside SSL_accept().
 */
#ifndef SATCHEL_TLS_INT_H
#define SATCHEL_TLS_INT_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "conf.h"
#include "key.h"
#include "tls_proxy.h"

struct tls_sni_ctx {
	char		*name;
	SSL_CTX		*ctx;
};

struct tls_state {
	SSL_CTX			*def;
	struct tls_sni_ctx	 sni[CONF_SNI_MAX];
	size_t			 nsni;
	struct key_proc		 kp;		/* holds the private keys */
	struct tls_keyref	 ref[KEY_KEYS_MAX];
	EVP_PKEY		*proxy[KEY_KEYS_MAX];	/* public only */
};

struct tls_ticket_key {
	unsigned char	 name[16];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
	time_t		 made;
	int		 valid;
};

/*
 * master_tls.c: [0] encrypts new tickets, [1] still decrypts the
 * previous ones.  Written by the master only; a worker reads its copy.
 */
extern struct tls_ticket_key tls_tkeys[2];

/* tls.c, worker: SSL_CTX callbacks (arg of tls_sni_cb: the tls_state). */
int	 tls_sni_cb(SSL *ssl, int *alert, void *arg);
int	 tls_ticket_cb(SSL *ssl, unsigned char name[16], unsigned char *iv,
	    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc);

#endif /* SATCHEL_TLS_INT_H */

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * scram.h -- SCRAM-SHA-256 (RFC 5802, RFC 7677): the stored-key scheme
 * "{SCRAM-SHA-256}ITER,SALT,STOREDKEY,SERVERKEY" (base64 fields, the
 * format Dovecot uses) and the server side of the exchange.  Runs in the
 * auth pool (and in satchel-passwd).  Needs OpenSSL.
 */
#ifndef SATCHEL_SCRAM_H
#define SATCHEL_SCRAM_H

#include <stddef.h>

#define SCRAM_ITER_DEFAULT	4096
#define SCRAM_MSG_MAX		1024

struct scram_keys {
	unsigned int	 iter;
	unsigned char	 salt[64];
	size_t		 saltlen;
	unsigned char	 stored[32];
	unsigned char	 server[32];
};

/* Parse the data after "{SCRAM-SHA-256}".  0 or -1. */
int	 scram_parse_stored(const char *data, struct scram_keys *k);
/* Keys for a password with a fresh salt: "{SCRAM-SHA-256}..." in buf. */
int	 scram_make_stored(const char *password, char *buf, size_t bufsz);
/* The stored form "{SCRAM-SHA-256}iter,salt,stored,server" of k. */
int	 scram_format_keys(const struct scram_keys *k, char *buf,
	    size_t bufsz);
/* Keys for a plaintext password and a given salt. */
int	 scram_derive(const char *password, const unsigned char *salt,
	    size_t saltlen, unsigned int iter, struct scram_keys *k);
/* Check a plaintext password against stored data: 1, 0, or -1. */
int	 scram_verify_plain(const char *data, const char *password);

struct scram_server {
	char		 user[256];
	char		 gs2[64];		/* "n,," or "y,," (+ authzid) */
	char		 client_first_bare[SCRAM_MSG_MAX];
	char		 server_first[SCRAM_MSG_MAX];
	char		 nonce[256];		/* client + server nonce */
	struct scram_keys keys;
};

/*
 * Parse client-first-message; fills st->user (saslname decoded),
 * st->gs2, st->client_first_bare and the client nonce.  0 or -1.
 */
int	 scram_client_first(struct scram_server *st, const char *msg,
	    size_t len);
/*
 * With st->keys set (real, or made up for an unknown user so that the
 * exchange looks the same), write server-first-message to out.  0/-1.
 */
int	 scram_server_first(struct scram_server *st, char *out, size_t outsz);
/*
 * Salts for users without stored SCRAM keys (an unknown user, or a
 * {PLAIN} one) come from a secret the master makes once, before it forks
 * the auth pool: every auth process then gives one user the same salt,
 * so the salt tells nothing about how, or whether, the user is stored.
 */
void	 scram_init(void);
void	 scram_salt_for(const char *user, unsigned char salt[16]);
/* Made-up keys for a user that has none (salt from scram_salt_for). */
void	 scram_fake_keys(struct scram_server *st);
/*
 * Check client-final-message.  1 proof ok (server-final-message "v=..."
 * in out), 0 wrong proof, -1 malformed.
 */
int	 scram_client_final(struct scram_server *st, const char *msg,
	    size_t len, char *out, size_t outsz);

#endif /* SATCHEL_SCRAM_H */

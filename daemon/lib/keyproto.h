/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * keyproto.h -- the messages a worker sends the key process (key.c) and
 * its answers.  Pure code: no I/O, no OpenSSL, so that the fuzz target
 * (tests/fuzz/fuzz_keyreq.c) runs exactly what the key process runs.
 *
 * A request travels as one privsep message (privsep.h): the type is the
 * operation, the payload is key index, padding, data length and data
 * (u32 u32 u32 bytes).  The key process knows, for each key it holds,
 * its kind and its size, and keyproto_req_parse() accepts only what one
 * of the table's rows allows for that key:
 *
 *   KEY_REQ_RSA_PRIV_ENC  RSA key; NONE: len == modulus size (RSA-PSS,
 *                         padded by the worker); PKCS1: 1..size-11
 *   KEY_REQ_EC_SIGN       EC key; padding NONE; a digest, 1..64 octets
 *
 * The answer is KEY_REP_RESULT: status (0 ok), length, data.
 */
#ifndef SATCHEL_KEYPROTO_H
#define SATCHEL_KEYPROTO_H

#include <stddef.h>
#include <stdint.h>

#define KEY_REQ_RSA_PRIV_ENC	1
/* 2 was RSA decryption: static RSA key exchange is never offered. */
#define KEY_REQ_EC_SIGN		3
#define KEY_REP_RESULT		16

/* Master <-> key process, on their socketpair, at start only. */
#define KEY_CTL_PUB		32	/* index, SubjectPublicKeyInfo DER */
#define KEY_CTL_READY		33
#define KEY_CTL_FAIL		34

#define KEY_PAD_NONE		0
#define KEY_PAD_PKCS1		1

#define KEY_KIND_RSA		1
#define KEY_KIND_EC		2

#define KEY_DATA_MAX		1024	/* RSA up to 8192 bits */
#define KEY_DIGEST_MAX		64	/* SHA-512 */
#define KEY_KEYS_MAX		17	/* tls_key and 16 tls_sni */

#define KEY_OK			0
#define KEY_FAILED		1

struct key_info {
	int		 kind;		/* KEY_KIND_*, 0: no key */
	size_t		 size;		/* RSA: modulus octets */
};

struct key_req {
	uint32_t	 type;
	uint32_t	 key;
	uint32_t	 pad;
	size_t		 len;
	unsigned char	 data[KEY_DATA_MAX];
};

/*
 * Encode r's payload into buf.  Returns its length, or 0 when it does
 * not fit or r->len is over KEY_DATA_MAX.
 */
size_t	 keyproto_req_pack(const struct key_req *r, void *buf, size_t cap);
/*
 * Decode and check a request of type from an untrusted worker against
 * the nkeys keys held.  0, or -1 with *err_r set to static text naming
 * the refusal ("unknown request type 7", "wrong key index 9", ...).
 */
int	 keyproto_req_parse(uint32_t type, const void *p, size_t len,
	    const struct key_info *keys, size_t nkeys, struct key_req *r,
	    const char **err_r);
/* The name of a request type for logs, or "unknown". */
const char *keyproto_req_name(uint32_t type);

/* Encode an answer.  Returns its length, or 0 when it does not fit. */
size_t	 keyproto_rep_pack(uint32_t status, const void *data, size_t len,
	    void *buf, size_t cap);
/*
 * Decode an answer from the key process into out (at most outmax
 * octets).  Returns the data length, or -1 when the answer is malformed,
 * longer than outmax, or says the operation failed.
 */
int	 keyproto_rep_parse(const void *p, size_t len, unsigned char *out,
	    size_t outmax);

#endif /* SATCHEL_KEYPROTO_H */

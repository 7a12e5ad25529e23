/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * keyproto.c -- encode and check key process messages (see keyproto.h).
 * Runs in the key process (on requests from workers, which are not
 * trusted) and in workers (on answers).  No I/O.
 */
#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "keyproto.h"
#include "privsep.h"
#include "compat/poison.h"

/*
 * The request table: every operation the key process performs.  A type
 * not in it is refused; a row names the key kind it needs and the
 * paddings it allows.
 */
static const struct key_rule {
	uint32_t	 type;
	const char	*name;
	int		 kind;
	int		 pad_none;
	int		 pad_pkcs1;
} key_rules[] = {
	{ KEY_REQ_RSA_PRIV_ENC, "rsa-sign", KEY_KIND_RSA, 1, 1 },
	{ KEY_REQ_EC_SIGN, "ec-sign", KEY_KIND_EC, 1, 0 },
};

static const struct key_rule *
key_rule(uint32_t type)
{
	size_t i;

	for (i = 0; i < sizeof(key_rules) / sizeof(key_rules[0]); i++)
		if (key_rules[i].type == type)
			return &key_rules[i];
	return NULL;
}

const char *
keyproto_req_name(uint32_t type)
{
	const struct key_rule *k = key_rule(type);

	return k == NULL ? "unknown" : k->name;
}

size_t
keyproto_req_pack(const struct key_req *r, void *buf, size_t cap)
{
	struct pack pk;

	if (r->len > KEY_DATA_MAX)
		return 0;
	pack_init(&pk, buf, cap);
	pack_u32(&pk, r->key);
	pack_u32(&pk, r->pad);
	pack_u32(&pk, (uint32_t)r->len);
	pack_bytes(&pk, r->data, r->len);
	return pk.err ? 0 : pk.len;
}

int
keyproto_req_parse(uint32_t type, const void *p, size_t len,
    const struct key_info *keys, size_t nkeys, struct key_req *r,
    const char **err_r)
{
	static char err[96];
	const struct key_rule *k;
	const struct key_info *ki;
	struct unpack u;
	uint32_t n;

	memset(r, 0, sizeof(*r));
	if ((k = key_rule(type)) == NULL) {
		(void)snprintf(err, sizeof(err), "unknown request type %lu",
		    (unsigned long)type);
		*err_r = err;
		return -1;
	}
	/* Exactly 12 octets of header and at most KEY_DATA_MAX of data. */
	if (len < 12 || len > 12 + KEY_DATA_MAX) {
		(void)snprintf(err, sizeof(err), "%s: bad length %zu",
		    k->name, len);
		*err_r = err;
		return -1;
	}
	unpack_init(&u, p, len);
	r->type = type;
	r->key = unpack_u32(&u);
	r->pad = unpack_u32(&u);
	n = unpack_u32(&u);
	if (u.err || n != len - 12) {
		(void)snprintf(err, sizeof(err), "%s: data length %lu does "
		    "not match the message", k->name, (unsigned long)n);
		*err_r = err;
		return -1;
	}
	r->len = n;
	unpack_bytes(&u, r->data, n);
	if (unpack_done(&u) == -1) {
		*err_r = "malformed request";
		return -1;
	}
	if (r->key >= nkeys || keys[r->key].kind == 0) {
		(void)snprintf(err, sizeof(err), "%s: wrong key index %lu",
		    k->name, (unsigned long)r->key);
		*err_r = err;
		return -1;
	}
	ki = &keys[r->key];
	if (ki->kind != k->kind) {
		(void)snprintf(err, sizeof(err), "%s: key %lu is not of that "
		    "kind", k->name, (unsigned long)r->key);
		*err_r = err;
		return -1;
	}
	if (!((r->pad == KEY_PAD_NONE && k->pad_none) ||
	    (r->pad == KEY_PAD_PKCS1 && k->pad_pkcs1))) {
		(void)snprintf(err, sizeof(err), "%s: padding %lu refused",
		    k->name, (unsigned long)r->pad);
		*err_r = err;
		return -1;
	}
	switch (type) {
	case KEY_REQ_RSA_PRIV_ENC:
		if (r->pad == KEY_PAD_NONE ? r->len != ki->size :
		    (r->len == 0 || ki->size < 11 || r->len > ki->size - 11))
			goto badlen;
		break;
	case KEY_REQ_EC_SIGN:
		if (r->len == 0 || r->len > KEY_DIGEST_MAX)
			goto badlen;
		break;
	}
	return 0;
badlen:
	(void)snprintf(err, sizeof(err), "%s: %zu octets of data for key %lu",
	    k->name, r->len, (unsigned long)r->key);
	*err_r = err;
	return -1;
}

size_t
keyproto_rep_pack(uint32_t status, const void *data, size_t len, void *buf,
    size_t cap)
{
	struct pack pk;

	if (len > KEY_DATA_MAX)
		return 0;
	pack_init(&pk, buf, cap);
	pack_u32(&pk, status);
	pack_u32(&pk, (uint32_t)len);
	pack_bytes(&pk, data, len);
	return pk.err ? 0 : pk.len;
}

int
keyproto_rep_parse(const void *p, size_t len, unsigned char *out,
    size_t outmax)
{
	struct unpack u;
	uint32_t status, n;

	if (len < 8 || len > 8 + KEY_DATA_MAX)
		return -1;
	unpack_init(&u, p, len);
	status = unpack_u32(&u);
	n = unpack_u32(&u);
	if (u.err || status != KEY_OK || n != len - 8 || n > outmax)
		return -1;
	unpack_bytes(&u, out, n);
	if (unpack_done(&u) == -1)
		return -1;
	return (int)n;
}

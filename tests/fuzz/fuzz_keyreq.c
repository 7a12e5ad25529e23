/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_keyreq.c -- libFuzzer target for daemon/keyproto.c, the parser
 * the key process runs on every request a worker sends.
 *
 * Input: a 4-byte request type, then the payload, parsed against a
 * fixed key table (a 2048-bit RSA key, a P-256 key, an empty slot, a
 * 4096-bit RSA key).  A request that is accepted must satisfy the
 * table: key index in range and of the kind the type needs, a padding
 * the type allows, a data length that fits the key; and packing it
 * again must give back the input payload byte for byte.  The same bytes
 * then go through the worker's answer parser, whose result must fit its
 * output buffer (short when bit 8 of the type is set) and, when
 * accepted, repack to the same bytes.  Any
 * violation calls abort().  Nothing is allocated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keyproto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const struct key_info keys[] = {
	{ KEY_KIND_RSA, 256 },
	{ KEY_KIND_EC, 72 },
	{ 0, 0 },
	{ KEY_KIND_RSA, 512 },
};
#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct key_req r;
	static unsigned char buf[KEY_DATA_MAX + 64], out[KEY_DATA_MAX];
	const struct key_info *k;
	const char *err = NULL;
	uint32_t type;
	size_t n, outmax;
	int len;

	if (size < 4)
		return 0;
	memcpy(&type, data, 4);
	data += 4;
	size -= 4;

	if (keyproto_req_parse(type, data, size, keys, NKEYS, &r, &err) ==
	    0) {
		if (r.key >= NKEYS || r.len > KEY_DATA_MAX || r.type != type)
			abort();
		k = &keys[r.key];
		switch (type) {
		case KEY_REQ_RSA_PRIV_ENC:
			if (k->kind != KEY_KIND_RSA || r.len > k->size ||
			    (r.pad != KEY_PAD_NONE && r.pad != KEY_PAD_PKCS1) ||
			    (r.pad == KEY_PAD_NONE && r.len != k->size) ||
			    (r.pad == KEY_PAD_PKCS1 && r.len > k->size - 11))
				abort();
			break;
		case KEY_REQ_EC_SIGN:
			if (k->kind != KEY_KIND_EC || r.pad != KEY_PAD_NONE ||
			    r.len == 0 || r.len > KEY_DIGEST_MAX)
				abort();
			break;
		default:
			abort();	/* a type not in the table */
		}
		n = keyproto_req_pack(&r, buf, sizeof(buf));
		if (n != size || memcmp(buf, data, size) != 0)
			abort();
		if (strcmp(keyproto_req_name(type), "unknown") == 0)
			abort();
	} else if (err == NULL || err[0] == '\0')
		abort();

	/*
	 * The worker's side: the answer parser.  Bit 8 of the type asks for
	 * a short output buffer, its size in the type's top half.
	 */
	outmax = (type & 0x100) == 0 ? sizeof(out) : (type >> 16) % sizeof(out);
	if ((len = keyproto_rep_parse(data, size, out, outmax)) >= 0) {
		if ((size_t)len > outmax || (size_t)len + 8 != size)
			abort();
		n = keyproto_rep_pack(KEY_OK, out, (size_t)len, buf,
		    sizeof(buf));
		if (n != size || memcmp(buf, data, size) != 0)
			abort();
	}
	return 0;
}

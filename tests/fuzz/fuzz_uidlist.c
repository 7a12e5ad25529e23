/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_uidlist.c -- libFuzzer target for the dovecot-uidlist reader
 * (md_uidlist_parse in modules/storage/maildir/maildir_uidlist.c, the
 * same parser reads Satchel's .satchel.uidlist) and for the uidl_format
 * expander of the core.  Input: the file.  Checked on success: the
 * header has a nonzero UIDVALIDITY and next UID, every base name lies
 * inside the input, is 1..255 bytes without '/' or ':', the records are
 * sorted by base name, UIDs are nonzero and distinct, and Dovecot's
 * name order is antisymmetric on neighbours (but where Dovecot's int
 * difference wraps).  Then the first line is
 * used as a uidl_format: when it parses, its expansion with the first
 * record is empty-or-valid.  Any violation calls abort().  Everything
 * is freed; no disk, no network.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "core.h"
#include "maildir.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_rec(const char *p, size_t size, const struct md_urec *r)
{
	size_t k;

	if (r->base < p || r->blen == 0 || r->blen > MD_NAME_MAX ||
	    r->blen > size - (size_t)(r->base - p) || r->uid == 0)
		abort();
	for (k = 0; k < r->blen; k++)
		if (r->base[k] == '/' || r->base[k] == ':')
			abort();
	if ((r->guid != NULL && (r->guid < p || r->glen > size)) ||
	    (r->pop3 != NULL && (r->pop3 < p || r->plen > size)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *err;
	char fmt[256], out[SATCHEL_UID_MAX + 1], name[MD_NAME_MAX + 1];
	struct satchel_uidl_vars v;
	struct md_uidlist ul;
	unsigned int vars;
	size_t line, i, k, fl;
	int a, b, n;

	memset(&v, 0, sizeof(v));
	if (md_uidlist_parse(p, size, &ul, &line) == 0) {
		if (ul.validity == 0 || ul.next == 0)
			abort();
		for (i = 0; i < ul.n; i++) {
			check_rec(p, size, &ul.recs[i]);
			if (i == 0)
				continue;
			if (md_ukeycmp(ul.recs[i - 1].base, ul.recs[i - 1].blen,
			    ul.recs[i].base, ul.recs[i].blen) > 0)
				abort();
			a = md_fname_sort_cmp(ul.recs[i - 1].base,
			    ul.recs[i - 1].blen, ul.recs[i].base,
			    ul.recs[i].blen);
			b = md_fname_sort_cmp(ul.recs[i].base, ul.recs[i].blen,
			    ul.recs[i - 1].base, ul.recs[i - 1].blen);
			/* Antisymmetric but where Dovecot's int difference
			 * wraps to INT_MIN both ways (kept, as Dovecot
			 * orders so). */
			if ((a > 0 && b > 0) || (a == 0) != (b == 0) ||
			    (a < 0 && b < 0 && a != b))
				abort();
		}
		for (i = 0; i < ul.n; i++)
			for (k = i + 1; k < ul.n && k < i + 8; k++)
				if (ul.recs[i].uid == ul.recs[k].uid)
					abort();
		if (ul.n > 0) {
			v.uid = ul.recs[0].uid;
			memcpy(name, ul.recs[0].base, ul.recs[0].blen);
			name[ul.recs[0].blen] = '\0';
			v.filename = v.guid = name;
		}
		v.uidvalidity = ul.validity;
		md_uidlist_free(&ul);
	} else if (ul.recs != NULL || ul.n != 0)
		abort();

	/* The first line as a uidl_format. */
	for (fl = 0; fl < size && fl < sizeof(fmt) - 1 && p[fl] != '\n'; fl++)
		;
	memcpy(fmt, p, fl);
	fmt[fl] = '\0';
	if (memchr(fmt, '\0', fl) == NULL &&
	    core_uidl_parse(fmt, &vars, &err) == 0) {
		n = core_uidl_expand(fmt, &v, out);
		if (n > SATCHEL_UID_MAX || (n >= 0 && (size_t)n != strlen(out)))
			abort();
		for (i = 0; n > 0 && i < (size_t)n; i++)
			if ((unsigned char)out[i] < 0x21 ||
			    (unsigned char)out[i] > 0x7e)
				abort();
	}
	return 0;
}

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_mbox_index.c -- libFuzzer target for the mbox index reader
 * (mb_index_parse in modules/storage/mbox/mbox_index.c), with the real
 * core.  Input: the index file, written for the default options
 * ("mboxrd cl0 xu0").  Checked on success: at least one message; each
 * lies inside the size the index gives, in order, without overlap; its
 * UID (when stored) is 1..70 bytes of 0x21..0x7e.  Any violation calls
 * abort().  Everything is freed on every path; no disk, no network.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "core.h"
#include "mbox.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* mb_index_load() (not fuzzed: it reads files) needs it to link. */
int
mb_check_from(struct mbox *mb, const struct mb_msg *m, int quiet)
{
	(void)mb;
	(void)m;
	(void)quiet;
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mb_index_head head;
	struct mb_list l;
	const struct mb_msg *v;
	uint64_t prev_end = 0;
	size_t i, k;
	char *copy;

	if ((copy = malloc(size + 1)) == NULL)
		abort();
	memcpy(copy, data, size);
	copy[size] = '\0';
	memset(&l, 0, sizeof(l));
	if (mb_index_parse(core_get(), "mboxrd cl0 xu0", copy, size, &head,
	    &l) == 0) {
		if (l.n == 0)
			abort();
		for (i = 0; i < l.n; i++) {
			v = &l.v[i];
			if (v->from_off < prev_end || v->data_off <= v->from_off ||
			    v->data_off > head.size ||
			    v->length > head.size - v->data_off)
				abort();
			prev_end = v->data_off + v->length;
			if (v->uid == NULL)
				continue;
			k = strlen(v->uid);
			if (k == 0 || k > SATCHEL_UID_MAX)
				abort();
			while (k-- > 0)
				if ((unsigned char)v->uid[k] < 0x21 ||
				    (unsigned char)v->uid[k] > 0x7e)
					abort();
		}
	} else if (l.n != 0)
		abort();
	mb_list_clear(&l);
	free(l.v);
	free(copy);
	return 0;
}

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_maildir_cache.c -- libFuzzer target for the Maildir size cache
 * reader (md_cache_parse in modules/storage/maildir/maildir_cache.c),
 * with the real core.  Input: the .satchel.sizes file.  Checked on
 * success: every key lies inside the input, is 1..255 bytes of
 * 0x21..0x7e, and the keys are sorted without duplicates.  Any
 * violation calls abort().  Everything is freed; no disk, no network.
 */
#include <sys/types.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "core.h"
#include "maildir.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct md_cent *ents;
	size_t n, i, k;

	if (md_cache_parse(core_get(), p, size, &ents, &n) == 0) {
		for (i = 0; i < n; i++) {
			if (ents[i].key < p || ents[i].klen == 0 ||
			    ents[i].klen > MD_NAME_MAX ||
			    ents[i].klen > size - (size_t)(ents[i].key - p))
				abort();
			for (k = 0; k < ents[i].klen; k++)
				if ((unsigned char)ents[i].key[k] < 0x21 ||
				    (unsigned char)ents[i].key[k] > 0x7e)
					abort();
			if (i > 0 && md_centcmp(&ents[i - 1], &ents[i]) >= 0)
				abort();
		}
		free(ents);
	} else if (ents != NULL || n != 0)
		abort();
	return 0;
}

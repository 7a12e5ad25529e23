/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_maildir_name.c -- libFuzzer target for Maildir file names
 * (modules/storage/maildir/maildir_name.c): the unique part, the stamp,
 * the ",S=" and ",W=" hints, the UID asked for and the name for cur/,
 * with the real core.  Input: one byte (bit 0: in new/, bit 1: seen),
 * then the name (cut at a NUL or a '/', at most 255 bytes).  Checked:
 * the unique part is a prefix without ':' or ','; the UID is 1..70 bytes
 * of 0x21..0x7e; a W= size agrees with md_hint; the target name, when
 * there is one, is at most 255 bytes, keeps the unique part, has no
 * '/', and says 'S' once when seen and the info part is ":2,".  Any
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
	const struct satchel_core *core = core_get();
	char name[MD_NAME_MAX + 1], uid[SATCHEL_UID_MAX + 1];
	char target[MD_NAME_MAX + 1];
	const char *info;
	struct md_msg m;
	uint64_t v, w;
	size_t len, k;
	int seen;

	if (size < 1)
		return 0;
	len = size - 1;
	if (len > MD_NAME_MAX)
		len = MD_NAME_MAX;
	memcpy(name, data + 1, len);
	name[len] = '\0';
	name[strcspn(name, "/")] = '\0';
	memset(&m, 0, sizeof(m));
	m.name = name;
	m.sub = (data[0] & 1) ? MD_NEW : MD_CUR;
	seen = (data[0] >> 1) & 1;
	md_name_parse(core, &m);
	if (m.ulen > strlen(name) || strcspn(name, ":,") != m.ulen)
		abort();
	if (m.sized != md_hint(core, name, m.ulen, 'W', &w) ||
	    (m.sized && w != m.size))
		abort();
	md_uid_base(core, &m, uid);
	k = strlen(uid);
	if (k == 0 || k > SATCHEL_UID_MAX)
		abort();
	while (k-- > 0)
		if ((unsigned char)uid[k] < 0x21 ||
		    (unsigned char)uid[k] > 0x7e)
			abort();
	(void)md_cacheable(core, &m);
	(void)md_hint(core, name, m.ulen, 'S', &v);
	if (md_target(core, &m, seen, target, sizeof(target), 1234) == 0) {
		if (strlen(target) > MD_NAME_MAX || strchr(target, '/') != NULL ||
		    strncmp(target, name, m.ulen) != 0)
			abort();
		info = strchr(name, ':');
		if (seen && (info == NULL || strncmp(info, ":2,", 3) == 0)) {
			info = strchr(target, ':');
			if (info == NULL || strncmp(info, ":2,", 3) != 0 ||
			    strchr(info, 'S') == NULL)
				abort();
		}
	}
	return 0;
}

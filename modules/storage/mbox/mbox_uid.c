/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * mbox_uid.c -- UIDs of the "mbox" storage module (the rules are at the
 * top of storage_mbox.c).  The duplicate rule is the core's, shared
 * with the maildir module.  Runs in the mailbox agent as the mail user,
 * never privileged.
 */
#include <sys/types.h>

#include <stdlib.h>
#include <string.h>

#include "satchel/module.h"
#include "mbox.h"

/* The UID of m: its own string, or the hex of its key in buf[33]. */
const char *
mb_uid(const struct satchel_core *core, const struct mb_msg *m, char *buf)
{
	if (m->uid != NULL)
		return m->uid;
	core->hash128_hex(m->key, buf);
	return buf;
}

/*
 * Give every message its UID: the one the index remembers if no earlier
 * message has it, else a valid X-UIDL (the scan's candidate) if free,
 * else the hash, suffixed by core->uidset_add() when taken.  A UID equal
 * to the hex of the key is not stored (uid NULL).  Returns 0 or -1.
 */
int
mb_assign_uids(const struct satchel_core *core, struct mb_list *l)
{
	char out[SATCHEL_UID_MAX + 1], hb[SATCHEL_HASH_HEX + 1];
	struct satchel_uidset *set;
	const char *base;
	struct mb_msg *m;
	size_t i;

	if ((set = core->uidset_new(l->n)) == NULL)
		return -1;
	for (i = 0; i < l->n; i++) {
		m = &l->v[i];
		core->hash128_hex(m->key, hb);
		if (m->uid != NULL && !core->uidset_has(set, m->uid))
			base = m->uid;		/* from the index */
		else if (m->cand != NULL && !core->uidset_has(set, m->cand))
			base = m->cand;		/* X-UIDL */
		else
			base = hb;
		if (core->uidset_add(set, base, out) == -1)
			goto fail;
		free(m->cand);
		m->cand = NULL;
		if (strcmp(out, hb) == 0) {
			free(m->uid);
			m->uid = NULL;
		} else if (m->uid == NULL || strcmp(out, m->uid) != 0) {
			free(m->uid);
			if ((m->uid = strdup(out)) == NULL)
				goto fail;
		}
	}
	core->uidset_free(set);
	return 0;
fail:
	core->uidset_free(set);
	return -1;
}

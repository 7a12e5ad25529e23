/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * core.h -- the struct satchel_core handed to modules.
 */
#ifndef SATCHEL_CORE_H
#define SATCHEL_CORE_H

struct satchel_core;

/* The one core instance (static storage, never freed). */
const struct satchel_core *core_get(void);
/* Name used to prefix module log lines ("file", "maildir"). */
void	 core_set_module_name(const char *name);

#endif /* SATCHEL_CORE_H */

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * module.h -- loading auth and storage modules.  Runs in the master, as
 * root, before any fork; never after privileges are dropped.
 */
#ifndef SATCHEL_DAEMON_MODULE_H
#define SATCHEL_DAEMON_MODULE_H

#include <stdint.h>

struct config;

struct module {
	char				*path;
	void				*handle;
	const struct satchel_module	*desc;
	const void			*ops;	/* auth or storage ops */
	void				*ctx;	/* from ops->init */
	struct satchel_conf		*conf;
	struct module			*next;
};

/*
 * Load dir/auth_<name>.so or dir/storage_<name>.so.  Refuses a file not
 * owned by root (or by the running user when not root), writable by
 * group or others, with another ABI, another kind or a short ops table;
 * each refusal is logged naming the file.  Returns NULL on error.
 */
struct module	*module_load(const char *dir, const char *name,
		    uint32_t kind);
/* Call ops->init with the module's config section.  0 or -1. */
int		 module_init(struct module *m, struct config *cf);
/* ops->fini, then dlclose. */
void		 module_unload(struct module *m);
/*
 * Load and init every storage module found in dir (storage_*.so), as a
 * list.  Returns 0 (even if none) or -1 on a module that failed.
 */
int		 module_load_storage(const char *dir, struct config *cf,
		    struct module **list_r);
/*
 * Put m at the head of *list, refusing (logged, -1) a second module of
 * the same kind and name.
 */
int		 module_add(struct module **list, struct module *m);
/* Find by name in a list. */
struct module	*module_find(struct module *list, const char *name);

#endif /* SATCHEL_DAEMON_MODULE_H */

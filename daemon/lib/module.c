/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * module.c -- the dlopen loader.  Runs in the master, as root, before
 * any fork.  Only the configured module directory is searched; a file
 * must be owned by root (or by us when we are not root) and not
 * writable by group or others (compare Postfix dynamicmaps.c), and its
 * descriptor must match our ABI, its kind and a complete ops table
 * (compare nginx ngx_module.c).  Each refusal names the file.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "core.h"
#include "log.h"
#include "module.h"
#include "compat/poison.h"

static int module_check_file(const char *);
static int module_check_desc(const char *, const struct satchel_module *,
    const char *, uint32_t);

static const char *
module_kind_name(uint32_t kind)
{
	return kind == SATCHEL_MODULE_AUTH ? "auth" : "storage";
}

static int
module_check_file(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		log_warn("module %s", path);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_warnx("module %s: not a regular file", path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		log_warnx("module %s: refused: owned by uid %lu, not root",
		    path, (unsigned long)st.st_uid);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_warnx("module %s: refused: writable by group or others",
		    path);
		return -1;
	}
	return 0;
}

/*
 * The one place that judges a descriptor: our ABI major and no newer
 * minor (a module built for 1.2 uses core members a 1.1 core lacks),
 * the kind asked for, the name of the file, an ops table at least as
 * large as ours with the mandatory members set.  0, or -1 logged.
 */
static int
module_check_desc(const char *path, const struct satchel_module *desc,
    const char *name, uint32_t kind)
{
	size_t minops;

	if (desc->abi_major != SATCHEL_ABI_MAJOR ||
	    desc->abi_minor > SATCHEL_ABI_MINOR) {
		log_warnx("module %s: refused: built for module ABI %u.%u, "
		    "this satcheld has %u.%u", path, desc->abi_major,
		    desc->abi_minor, SATCHEL_ABI_MAJOR, SATCHEL_ABI_MINOR);
		return -1;
	}
	if (desc->kind != kind) {
		log_warnx("module %s: refused: not %s module", path,
		    kind == SATCHEL_MODULE_AUTH ? "an auth" : "a storage");
		return -1;
	}
	minops = kind == SATCHEL_MODULE_AUTH ?
	    sizeof(struct satchel_auth_ops) :
	    sizeof(struct satchel_storage_ops);
	if (desc->ops == NULL || desc->ops_size < minops) {
		log_warnx("module %s: refused: ops table of %u bytes, at "
		    "least %zu needed", path, desc->ops_size, minops);
		return -1;
	}
	if (desc->name == NULL || strcmp(desc->name, name) != 0) {
		log_warnx("module %s: refused: named '%s', not '%s'", path,
		    desc->name != NULL ? desc->name : "(null)", name);
		return -1;
	}
	if (kind == SATCHEL_MODULE_AUTH) {
		const struct satchel_auth_ops *ops = desc->ops;

		if (ops->init == NULL || ops->verify == NULL) {
			log_warnx("module %s: refused: no init or verify",
			    path);
			return -1;
		}
	} else {
		const struct satchel_storage_ops *ops = desc->ops;

		if (ops->init == NULL || ops->open == NULL ||
		    ops->count == NULL || ops->info == NULL ||
		    ops->message == NULL || ops->commit == NULL ||
		    ops->close == NULL) {
			log_warnx("module %s: refused: incomplete ops", path);
			return -1;
		}
	}
	return 0;
}

struct module *
module_load(const char *dir, const char *name, uint32_t kind)
{
	const struct satchel_module *desc;
	struct module *m;
	char path[1024];
	void *h;
	int n;

	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0') {
		log_warnx("module name '%s' is not valid", name);
		return NULL;
	}
	n = snprintf(path, sizeof(path), "%s/%s_%s.so", dir,
	    module_kind_name(kind), name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("module %s: path too long", name);
		return NULL;
	}
	if (module_check_file(path) == -1)
		return NULL;
	if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		log_warnx("module %s: %s", path, dlerror());
		return NULL;
	}
	if ((desc = dlsym(h, SATCHEL_MODULE_SYMBOL)) == NULL) {
		log_warnx("module %s: no symbol %s", path,
		    SATCHEL_MODULE_SYMBOL);
		goto fail;
	}
	if (module_check_desc(path, desc, name, kind) == -1)
		goto fail;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->path = strdup(path)) == NULL) {
		free(m);
		log_warn("%s", __func__);
		goto fail;
	}
	m->handle = h;
	m->desc = desc;
	m->ops = desc->ops;
	log_debug("loaded module %s (%s %s)", path, desc->name,
	    desc->version != NULL ? desc->version : "?");
	return m;
fail:
	dlclose(h);
	return NULL;
}

int
module_init(struct module *m, struct config *cf)
{
	int r;

	if ((m->conf = conf_section(cf, m->desc->name)) == NULL)
		return -1;
	core_set_module_name(m->desc->name);
	if (m->desc->kind == SATCHEL_MODULE_AUTH)
		r = ((const struct satchel_auth_ops *)m->ops)->init(
		    core_get(), m->conf, &m->ctx);
	else
		r = ((const struct satchel_storage_ops *)m->ops)->init(
		    core_get(), m->conf, &m->ctx);
	core_set_module_name("core");
	if (r != 0) {
		log_warnx("module %s: init failed", m->path);
		return -1;
	}
	return 0;
}

void
module_unload(struct module *m)
{
	if (m == NULL)
		return;
	if (m->ctx != NULL) {
		if (m->desc->kind == SATCHEL_MODULE_AUTH) {
			const struct satchel_auth_ops *ops = m->ops;

			if (ops->fini != NULL)
				ops->fini(m->ctx);
		} else {
			const struct satchel_storage_ops *ops = m->ops;

			if (ops->fini != NULL)
				ops->fini(m->ctx);
		}
	}
	free(m->conf);
	dlclose(m->handle);
	free(m->path);
	free(m);
}

int
module_load_storage(const char *dir, struct config *cf,
    struct module **list_r)
{
	struct dirent *de;
	struct module *m, *list = NULL;
	char name[64];
	size_t len;
	DIR *d;
	int r = 0;

	*list_r = NULL;
	if ((d = opendir(dir)) == NULL) {
		log_warn("module directory %s", dir);
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "storage_", 8) != 0)
			continue;
		len = strlen(de->d_name);
		if (len < 12 || strcmp(de->d_name + len - 3, ".so") != 0 ||
		    len - 11 >= sizeof(name))
			continue;
		memcpy(name, de->d_name + 8, len - 11);
		name[len - 11] = '\0';
		if ((m = module_load(dir, name, SATCHEL_MODULE_STORAGE)) ==
		    NULL || module_init(m, cf) == -1) {
			module_unload(m);
			r = -1;
			continue;
		}
		if (module_add(&list, m) == -1) {
			module_unload(m);
			r = -1;
		}
	}
	closedir(d);
	*list_r = list;
	return r;
}

int
module_add(struct module **list, struct module *m)
{
	struct module *o;

	for (o = *list; o != NULL; o = o->next)
		if (o->desc->kind == m->desc->kind &&
		    strcmp(o->desc->name, m->desc->name) == 0) {
			log_warnx("module %s: refused: a module named '%s' "
			    "is already loaded (%s)", m->path, m->desc->name,
			    o->path);
			return -1;
		}
	m->next = *list;
	*list = m;
	return 0;
}

struct module *
module_find(struct module *list, const char *name)
{
	for (; list != NULL; list = list->next)
		if (strcmp(list->desc->name, name) == 0)
			return list;
	return NULL;
}

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * core.c -- the struct satchel_core handed to every module: logging,
 * config lookup, password schemes, locks and the message sizer, and
 * (ABI 1.2, in core_storage.c) the helpers both storage modules share.
 * Used in the master (module init), the auth pool and the mailbox agent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "compat/compat.h"
#include "satchel/module.h"
#include "conf.h"
#include "core.h"
#include "lock.h"
#include "log.h"
#include "md5.h"
#include "password.h"
#include "protocol.h"
#include "compat/poison.h"

static const char *core_module = "core";

static void core_log(int, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static const char *core_conf_get(const struct satchel_conf *, const char *);
static void core_conf_error(const struct satchel_conf *, const char *,
    const char *, ...) __attribute__((format(printf, 3, 4)));
static int core_parse_uint(const char *, uint64_t, uint64_t, uint64_t *);
static int core_parse_bool(const char *, int *);
static int core_conf_table(const struct satchel_conf *,
    const struct satchel_conf_key *, void *);
static int core_timingsafe_bcmp(const void *, const void *, size_t);
static const char *core_conf_global(const struct satchel_conf *,
    const char *);

static const struct satchel_core core = {
	.abi_major = SATCHEL_ABI_MAJOR,
	.abi_minor = SATCHEL_ABI_MINOR,
	.size = sizeof(struct satchel_core),
	.log = core_log,
	.conf_get = core_conf_get,
	.conf_error = core_conf_error,
	.parse_uint = core_parse_uint,
	.parse_bool = core_parse_bool,
	.password_verify = password_verify,
	.password_dummy = password_dummy,
	.password_plain = password_plain,
	.password_credential = password_credential,
	.timingsafe_bcmp = core_timingsafe_bcmp,
	.lock_fcntl = lock_fcntl,
	.lock_dotlock = lock_dotlock,
	.lock_dotunlock = lock_dotunlock,
	.msg_size_init = proto_msgsize_init,
	.msg_size_feed = proto_msgsize_feed,
	.msg_size_end = proto_msgsize_end,
	.conf_table = core_conf_table,
	/* ABI 1.2 */
	.fnv64 = core_fnv64,
	.hash128 = core_hash128,
	.hash128_hex = core_hash128_hex,
	.uidset_new = core_uidset_new,
	.uidset_has = core_uidset_has,
	.uidset_add = core_uidset_add,
	.uidset_free = core_uidset_free,
	.session_lock = core_session_lock,
	.open_beneath = core_open_beneath,
	.vis = log_vis,
	.wipe = core_wipe,
	.array_grow = core_array_grow,
	.parse_digits = core_parse_digits,
	/* ABI 1.3 */
	.conf_global = core_conf_global,
	.uidl_parse = core_uidl_parse,
	.uidl_expand = core_uidl_expand,
	.uidl_pins = core_uidl_pins,
	.uidl_conf = core_uidl_conf,
	/* ABI 1.5 */
	.md5_init = md5_init,
	.md5_update = md5_update,
	.md5_final = md5_final,
};

const struct satchel_core *
core_get(void)
{
	return &core;
}

void
core_set_module_name(const char *name)
{
	core_module = name;
}

static void
core_log(int level, const char *fmt, ...)
{
	char msg[1800];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (level < SATCHEL_LOG_ERR)
		level = SATCHEL_LOG_ERR;
	log_vlog_str(level, core_module, msg);
}

static const char *
core_conf_get(const struct satchel_conf *conf, const char *key)
{
	return conf_get(conf->cf, conf->section, key);
}

static const char *
core_conf_global(const struct satchel_conf *conf, const char *key)
{
	return conf_get(conf->cf, "", key);
}

static void
core_conf_error(const struct satchel_conf *conf, const char *key,
    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	conf_error(conf->cf, conf->section, key, "%s", msg);
}

static int
core_parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *val_r)
{
	return conf_parse_uint(s, min, max, val_r);
}

static int
core_parse_bool(const char *s, int *val_r)
{
	return conf_parse_bool(s, val_r);
}

static int
core_conf_table(const struct satchel_conf *conf,
    const struct satchel_conf_key *keys, void *base)
{
	return conf_table(conf->cf, conf->section, keys, base);
}

static int
core_timingsafe_bcmp(const void *a, const void *b, size_t len)
{
	return timingsafe_bcmp(a, b, len);
}

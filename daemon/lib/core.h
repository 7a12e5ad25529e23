/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * core.h -- the struct satchel_core handed to modules.
 */
#ifndef SATCHEL_CORE_H
#define SATCHEL_CORE_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct satchel_core;
struct satchel_uidset;

/* The one core instance (static storage, never freed). */
const struct satchel_core *core_get(void);
/* Name used to prefix module log lines ("file", "maildir"). */
void	 core_set_module_name(const char *name);

/*
 * core_storage.c: the ABI 1.2 helpers, documented with their members in
 * include/satchel/module.h.  Pure but for open_beneath and session_lock;
 * run in the mailbox agent as the mail user.
 */
uint64_t core_fnv64(uint64_t h, const void *p, size_t len);
void	 core_hash128(const void *p, size_t len, uint64_t h_r[2]);
void	 core_hash128_hex(const uint64_t h[2], char out[33]);
struct satchel_uidset *core_uidset_new(size_t hint);
int	 core_uidset_has(const struct satchel_uidset *set, const char *uid);
int	 core_uidset_add(struct satchel_uidset *set, const char *base,
	    char out[71]);
void	 core_uidset_free(struct satchel_uidset *set);
int	 core_session_lock(int dirfd, const char *path, int timeout_ms,
	    const char *hint, int *fd_r, const char **errstr_r);
int	 core_open_beneath(int dirfd, const char *path, int flags,
	    mode_t mode, int mine);
size_t	 core_parse_digits(const char *p, size_t len, int base,
	    uint64_t *val_r);
void	 core_wipe(void *p, size_t len);
/* ABI 1.3: uidl_format (Dovecot's pop3_uidl_format syntax); pure. */
struct satchel_uidl_vars;
int	 core_uidl_parse(const char *fmt, unsigned int *vars_r,
	    const char **errstr_r);
int	 core_uidl_expand(const char *fmt, const struct satchel_uidl_vars *v,
	    char out[71]);
struct core_pin;
/* Pure: parse a pins file in buf[len] (modified); for the unit tests. */
int	 core_pins_parse(char *buf, size_t len, struct core_pin **pins_r,
	    size_t *n_r);
int	 core_uidl_pins(int dirfd, const char *path, char **uids, size_t n);
struct satchel_conf;
int	 core_uidl_conf(const struct satchel_conf *conf, unsigned int refused,
	    const char *refused_why, char **fmt_r, unsigned int *vars_r);
int	 core_array_grow(void *arrp, size_t *cap, size_t n, size_t size,
	    size_t first);

#endif /* SATCHEL_CORE_H */

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * auth_fail.h -- failed logins counted by the auth pool, per canonical
 * user ("u:alice@example.org") and per client address ("a:192.0.2.7"),
 * in memory shared by the auth processes only.  The master creates the
 * table before any fork; every child that is not an auth process calls
 * auth_fail_forget() first thing.  Times are CLOCK_MONOTONIC ms.
 */
#ifndef SATCHEL_AUTH_FAIL_H
#define SATCHEL_AUTH_FAIL_H

#include <stdint.h>

/* In the master, before forking.  0 or -1 (logged). */
int	 auth_fail_create(void);
/* In every child that is not an auth process. */
void	 auth_fail_forget(void);
/* 1 while this process has the table mapped. */
int	 auth_fail_mapped(void);
uint64_t auth_fail_now_ms(void);

/* Failures of key within the last window_ms. */
uint32_t auth_fail_count(const char *key, uint64_t window_ms, uint64_t now);
/* Count one more failure of key; returns the new count. */
uint32_t auth_fail_add(const char *key, uint64_t window_ms, uint64_t now);
/* No attempt for key is answered before this time (0: none). */
uint64_t auth_fail_hold(const char *key, uint64_t now);
void	 auth_fail_set_hold(const char *key, uint64_t until);
/* A success: forget key's failures. */
void	 auth_fail_clear(const char *key);

#endif /* SATCHEL_AUTH_FAIL_H */

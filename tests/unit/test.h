/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * test.h -- the unit test harness.  Each test_<unit>.c has a main() that
 * calls TEST_START/TEST_DONE around groups of ASSERT_* checks and ends
 * with "return test_summary();".  A failed assertion prints file:line and
 * both values, marks the current test failed and goes on.  TEST_SKIP
 * (why) instead marks it skipped: it counts neither as passed nor as
 * failed.  The summary line "unit <prog>: N passed, N failed, N
 * skipped" is read by tests/run-tests.
 */
#ifndef SATCHEL_TEST_H
#define SATCHEL_TEST_H

#include <stdint.h>
#include <string.h>

void	test_start(const char *name);
void	test_done(void);
void	test_fail(const char *file, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	test_summary(void);
/* A fresh temporary directory (removed at exit); static storage. */
const char *test_tmpdir(void);
/* Write a file; abort the program on error. */
void	test_write_file(const char *path, const void *data, size_t len);
/* The core as the daemon builds it, with logging to stderr. */
const struct satchel_core *test_core(void);
/* Mark the current test skipped, saying why (printed). */
void	test_skip(const char *why);
/*
 * Load $SATCHEL_BUILDDIR/.libs/<auth|storage>_<name>.so through the
 * daemon's loader (module_load), as the master does; NULL (a failed
 * assertion) when it refuses.  The module stays loaded until exit.
 */
struct module;
struct module *test_load_module(const char *name, uint32_t kind);

#define TEST_START(name)	test_start(name)
#define TEST_DONE()		test_done()
#define TEST_SKIP(why)		test_skip(why)

#define ASSERT_INT_EQ(a, b) do {					\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a != _b)							\
		test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld",	\
		    #a, #b, _a, _b);					\
} while (0)
#define ASSERT_INT_NE(a, b) do {					\
	long long _a = (long long)(a), _b = (long long)(b);		\
	if (_a == _b)							\
		test_fail(__FILE__, __LINE__, "%s != %s: both %lld",	\
		    #a, #b, _a);					\
} while (0)
#define ASSERT_U64_EQ(a, b) do {					\
	uint64_t _a = (a), _b = (b);					\
	if (_a != _b)							\
		test_fail(__FILE__, __LINE__, "%s == %s: %llu != %llu",	\
		    #a, #b, (unsigned long long)_a,			\
		    (unsigned long long)_b);				\
} while (0)
#define ASSERT_STR_EQ(a, b) do {					\
	const char *_a = (a), *_b = (b);				\
	if (_a == NULL || _b == NULL || strcmp(_a, _b) != 0)		\
		test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", \
		    #a, #b, _a ? _a : "(null)", _b ? _b : "(null)");	\
} while (0)
/* Compare len bytes; prints both as escaped strings on mismatch. */
#define ASSERT_MEM_EQ(a, alen, b, blen)					\
	test_mem_eq(__FILE__, __LINE__, #a, (a), (alen), (b), (blen))
#define ASSERT_TRUE(x) do {						\
	if (!(x))							\
		test_fail(__FILE__, __LINE__, "%s is false", #x);	\
} while (0)

void	test_mem_eq(const char *file, int line, const char *what,
	    const void *a, size_t alen, const void *b, size_t blen);

#endif /* SATCHEL_TEST_H */

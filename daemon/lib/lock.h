/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * lock.h -- every lock Satchel takes goes through here.  Runs as the
 * mail user in the mailbox agent.
 */
#ifndef SATCHEL_LOCK_H
#define SATCHEL_LOCK_H

/*
 * fcntl lock on the whole file: write lock if write, else read lock.
 * timeout_ms 0 tries once; otherwise retries with backoff (10 ms
 * doubling to 200 ms) until the timeout.  Returns 0 locked, 1 held by
 * another process, -1 error (errno set).
 */
int	 lock_fcntl(int fd, int write, int timeout_ms);
/* Release a lock taken with lock_fcntl. */
int	 lock_unlock(int fd);
/*
 * Dotlock path.lock, created NFS-safely (unique temp file + link(2),
 * success judged by the link count), breaking a lock whose mtime is
 * older than stale_s.  Returns 0 locked, 1 still busy at the timeout,
 * -1 error.
 */
int	 lock_dotlock(const char *path, int timeout_ms, int stale_s);
int	 lock_dotunlock(const char *path);

#endif /* SATCHEL_LOCK_H */

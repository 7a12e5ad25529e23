/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * io.h -- the worker's client connection: buffered input and output over
 * a non-blocking socket, with poll() deadlines.  The transport is a pair
 * of functions so TLS can wrap it without the protocol code knowing.
 * Runs unprivileged in the worker.
 */
#ifndef SATCHEL_IO_H
#define SATCHEL_IO_H

#include <sys/types.h>

#include <stdint.h>

#include "buf.h"

/* How long a client may leave our output unread before we give up. */
#define IO_WRITE_TIMEOUT_MS	60000

#define IO_IN_MAX	(64 * 1024)
#define IO_OUT_MAX	(1024 * 1024)
/*
 * Write out once this much waits: big writes keep the system calls per
 * MiB of a RETR low (4 at 256 KiB), and with TLS each one is 16 full
 * records.
 */
#define IO_FLUSH_AT	(256 * 1024)

struct conn;

struct conn_transport {
	/* Like read(2)/write(2) on a non-blocking fd: -1 with errno
	 * EAGAIN means wait for want (POLLIN/POLLOUT). */
	ssize_t	(*read)(struct conn *, void *, size_t, short *want);
	ssize_t	(*write)(struct conn *, const void *, size_t, short *want);
	/*
	 * Optional (NULL: none): send len bytes of file fd from *off
	 * without copying them through the process (sendfile(2), or
	 * SSL_sendfile() with kernel TLS), advancing *off; like write
	 * otherwise.  -1 with errno EINVAL or ENOSYS means the kernel
	 * cannot do it for this pair: the caller writes the bytes itself.
	 */
	ssize_t	(*sendfile)(struct conn *, int, off_t *, size_t, short *want);
	/* Bytes the transport holds already decoded (TLS records). */
	size_t	(*pending)(struct conn *);
	void	(*close)(struct conn *);
};

struct conn {
	int				 fd;
	struct buf			 in;
	struct buf			 out;
	const struct conn_transport	*tr;
	void				*tls;	/* transport state */
	int				 eof;
	int				 error;
	int				 nosendfile;	/* the kernel said no */
	uint64_t			 bytes_in, bytes_out;
};

void	 conn_init(struct conn *c, int fd);
/* Free buffers and close the socket (and the transport). */
void	 conn_close(struct conn *c);
/*
 * Read what is available into c->in, waiting up to timeout_ms for the
 * first byte.  Returns bytes read (> 0), 0 at end of file, -1 on error,
 * -2 on timeout, -3 when interrupted by a signal (EINTR).
 */
ssize_t	 conn_fill(struct conn *c, int timeout_ms);
/* Queue bytes; writes out when IO_FLUSH_AT is reached.  0 or -1. */
int	 conn_write(struct conn *c, const void *p, size_t len);
int	 conn_puts(struct conn *c, const char *s);
/* Write everything queued, waiting up to timeout_ms per stall. */
int	 conn_flush(struct conn *c, int timeout_ms);
/*
 * Zero-copy: write everything queued, then len bytes of file fd from
 * offset off straight from the page cache, waiting up to timeout_ms per
 * stall.  Returns 0 when all were sent; -1 on a connection error;
 * -2 when the transport cannot send from a file (no sendfile, or the
 * kernel refused this file) -- *sent_r then says how many bytes did go,
 * and the caller writes the rest itself; -3 when the file ended early
 * (it shrank under us).  conn_can_sendfile() tells whether to try.
 */
int	 conn_sendfile(struct conn *c, int fd, off_t off, size_t len,
	    int timeout_ms, size_t *sent_r);
int	 conn_can_sendfile(const struct conn *c);
/* True when unread input is buffered (here or in the transport). */
int	 conn_pending(struct conn *c);

extern const struct conn_transport conn_plain;

#endif /* SATCHEL_IO_H */

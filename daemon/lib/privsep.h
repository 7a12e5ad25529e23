/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * privsep.h -- framed messages between the worker and the privileged
 * side (auth pool, mailbox agent).  Every channel is an AF_UNIX
 * SOCK_SEQPACKET socket, so one send is one message: a 4-byte type, a
 * 4-byte payload length that must equal what arrived, the payload, and
 * at most one file descriptor (SCM_RIGHTS).  Payloads are built with the
 * pack_* helpers: integers in host order (both ends are one machine),
 * strings length-prefixed, never NUL-terminated lines that data could
 * inject into.  The receiver treats everything as hostile: it checks
 * sizes exactly and NUL-terminates strings it copies out.
 */
#ifndef SATCHEL_PRIVSEP_H
#define SATCHEL_PRIVSEP_H

#include <stddef.h>
#include <stdint.h>

#define PRIVSEP_MSG_MAX		32768	/* payload octets */

/* The message types and their layouts: msg.h. */

struct privsep_msg {
	uint32_t	 type;
	uint32_t	 len;
	int		 fd;		/* -1 when none came */
	unsigned char	 data[PRIVSEP_MSG_MAX];
};

/* Send one message, with fd unless it is -1.  0 or -1 (errno). */
int	 privsep_send(int sock, uint32_t type, const void *data, size_t len,
	    int fd);
/*
 * Receive one message, waiting at most timeout_ms (-1 forever).
 * Returns 0, 1 at end of file, -1 on error or timeout (errno ETIMEDOUT),
 * or on a malformed message (errno EBADMSG): truncated, length field
 * not matching, more than one fd (all are closed).
 */
int	 privsep_recv(int sock, struct privsep_msg *m, int timeout_ms);

struct pack {
	unsigned char	*p;
	size_t		 len, cap;
	int		 err;
};
void	 pack_init(struct pack *pk, void *buf, size_t cap);
void	 pack_u32(struct pack *pk, uint32_t v);
void	 pack_u64(struct pack *pk, uint64_t v);
void	 pack_bytes(struct pack *pk, const void *p, size_t len);
void	 pack_str(struct pack *pk, const char *s);	/* u32 len + bytes */

struct unpack {
	const unsigned char	*p;
	size_t			 len, off;
	int			 err;
};
void	 unpack_init(struct unpack *u, const void *p, size_t len);
uint32_t unpack_u32(struct unpack *u);
uint64_t unpack_u64(struct unpack *u);
/* Copy n raw bytes. */
void	 unpack_bytes(struct unpack *u, void *dst, size_t n);
/*
 * Copy a string into dst (dstsz includes the NUL).  A string that does
 * not fit or holds a NUL sets the error.
 */
void	 unpack_str(struct unpack *u, char *dst, size_t dstsz);
/* 0 when no error occurred and every byte was consumed, else -1. */
int	 unpack_done(const struct unpack *u);

#endif /* SATCHEL_PRIVSEP_H */

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

/*
 * Worker <-> auth pool.  Every request is: user, secret, extra, remote
 * address, local address, session id (all strings).
 *   PASS:  secret is the password
 *   APOP:  secret is the hex digest, extra the banner timestamp
 *   CRAM:  secret is the hex digest, extra the challenge
 *   SCRAM: user is empty, secret the client-first-message; the pool
 *          answers CONTINUE (server-first-message), the worker sends
 *          SCRAM_FINAL (client-final-message), then comes RESULT.
 * RESULT: result, delay ms, login delay, canonical user, data (the
 * SCRAM server-final-message); the agent's socket on OK.
 */
#define PS_AUTH_PASS		1
#define PS_AUTH_APOP		2
#define PS_AUTH_RESULT		3
#define PS_AUTH_CRAM		4
#define PS_AUTH_SCRAM		5
#define PS_AUTH_CONTINUE	6
#define PS_AUTH_SCRAM_FINAL	7

/* Auth process -> its spare agent: storage module name, path, user
 * name, uid, gid, home, session; the worker's socket as the fd. */
#define PS_AGENT_START		8

/* Worker <-> mailbox agent */
#define PS_MBOX_HELLO		10	/* status, count, total, msg */
#define PS_MBOX_LIST		11	/* (empty) */
#define PS_MBOX_LIST_BATCH	12	/* n, n * (size, uid) */
#define PS_MBOX_LIST_END	13
#define PS_MBOX_OPEN		14	/* index */
#define PS_MBOX_MSG		15	/* status, offset, length, flags, msg; fd */
#define PS_MBOX_MARKS		16	/* start, n, n bytes of marks */
#define PS_MBOX_COMMIT		17
#define PS_MBOX_COMMIT_RESULT	18	/* status, msg */

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

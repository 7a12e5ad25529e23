/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * fuzz_records.h -- what the request-handler targets (fuzz_authreq.c,
 * fuzz_agentreq.c) share: their input as records of an op byte, a
 * 16-bit little-endian length and that many bytes, and a count of the
 * open descriptors to check that none leaks.
 */
#ifndef SATCHEL_FUZZ_RECORDS_H
#define SATCHEL_FUZZ_RECORDS_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>

#include "privsep.h"

/*
 * The record at *off in data: 1 with *op_r, *p_r, *len_r set (len cut
 * to what is left and to PRIVSEP_MSG_MAX) and *off moved past it; 0 at
 * the end.
 */
static inline int
fuzz_record(const uint8_t *data, size_t size, size_t *off, int *op_r,
    const uint8_t **p_r, size_t *len_r)
{
	size_t len;

	if (*off + 3 > size)
		return 0;
	*op_r = data[*off];
	len = (size_t)data[*off + 1] | (size_t)data[*off + 2] << 8;
	if (len > size - *off - 3)
		len = size - *off - 3;
	*p_r = data + *off + 3;
	*off += 3 + len;
	*len_r = len > PRIVSEP_MSG_MAX ? PRIVSEP_MSG_MAX : len;
	return 1;
}

/* Open descriptors below 256. */
static inline int
fuzz_fd_count(void)
{
	int fd, n = 0;

	for (fd = 0; fd < 256; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n++;
	return n;
}

#endif /* SATCHEL_FUZZ_RECORDS_H */

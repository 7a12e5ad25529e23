/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tls_error.h -- OpenSSL's error queue as text for a log line or an
 * error string.  Pure code, any role: the master's contexts
 * (master_tls.c), the worker's handshake (tls.c), the key process
 * (key.c).
 */
#ifndef SATCHEL_TLS_ERROR_H
#define SATCHEL_TLS_ERROR_H

/*
 * The oldest error on this thread's OpenSSL error queue, as text in a
 * static buffer that the next call overwrites ("unknown error" when the
 * queue is empty); the queue is cleared.
 */
const char	*tls_error(void);
/*
 * Why a PEM file did not give a usable what ("certificate", "private
 * key"), in words for satcheld -t and the log, never OpenSSL's raw
 * "error:0480006C:..." codes.  Clears the error queue; static storage.
 */
const char	*tls_file_error(const char *what);

#endif /* SATCHEL_TLS_ERROR_H */

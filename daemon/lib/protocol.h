/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * protocol.h -- the pure parts of POP3: line reader, command splitter,
 * strict number parser, and the streaming message converter (LF to CRLF,
 * mbox unescaping, dot-stuffing, TOP).  No I/O, no allocation beyond the
 * caller's buffers, no globals: every function here is fuzzable and runs
 * unprivileged in the worker (msg_size also runs in the mailbox agent).
 */
#ifndef SATCHEL_PROTOCOL_H
#define SATCHEL_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROTO_LINE_MAX		255	/* RFC 2449: command line incl. CRLF */
#define PROTO_ARG_MAX		40	/* RFC 1939: one argument */
#define PROTO_KEYWORD_MAX	4	/* every POP3 keyword is 3-4 letters */
#define PROTO_ARGS_MAX		4

/* proto_getline() results */
#define PROTO_LINE_OK		1	/* *line_r, *len_r set */
#define PROTO_LINE_NEED		0	/* no complete line buffered */
#define PROTO_LINE_TOOLONG	-1	/* an overlong line was discarded */
#define PROTO_LINE_NUL		-2	/* a line with a NUL was discarded */

struct proto_reader {
	size_t	 max;		/* longest line accepted, incl. CRLF */
	int	 skipping;	/* discarding the rest of an overlong line */
};

void	 proto_reader_init(struct proto_reader *rd, size_t max);
/*
 * Take the next line from in.  A line ends at LF (a CR before it is
 * dropped; a bare LF ends a line too).  On PROTO_LINE_OK, *line_r points
 * into in's storage and stays valid until the next call that changes in;
 * the line and its end are consumed from in.  The line is NUL-terminated
 * in place (its CR or LF is overwritten), so line[len] == '\0'.  A line
 * is overlong when it has more than max - 2 bytes before its line end,
 * or when max bytes are buffered without a LF.  An overlong line is
 * consumed up to its LF and reported once as PROTO_LINE_TOOLONG (never
 * split into two commands); if its LF has not arrived yet, the reader
 * keeps discarding (rd->skipping) and returns PROTO_LINE_TOOLONG now and
 * PROTO_LINE_NEED on later calls until the LF comes.  A line containing
 * NUL is consumed and reported as PROTO_LINE_NUL.
 */
int	 proto_getline(struct proto_reader *rd, struct buf *in,
	    const char **line_r, size_t *len_r);

struct proto_cmd {
	char		 keyword[PROTO_KEYWORD_MAX + 1];	/* upper-cased */
	const char	*rest;		/* after the single space, or "" */
	size_t		 restlen;
};

/*
 * Split a line into keyword and rest.  The keyword is 1-4 ASCII letters,
 * upper-cased; it ends at a space or the end of line.  Returns 0, or -1
 * for an empty line, a bad keyword, or a control character (< 0x20 or
 * 0x7f) anywhere in the line.
 */
int	 proto_parse(const char *line, size_t len, struct proto_cmd *cmd);
/* (cmd->rest points into line and is NUL-terminated only if line is.) */

/*
 * Split rest at single or repeated spaces into at most max arguments of
 * at most PROTO_ARG_MAX octets each, copied NUL-terminated into args.
 * Returns the count, or -1 for too many, too long, or a NUL byte.
 */
int	 proto_split(const char *rest, size_t len,
	    char args[][PROTO_ARG_MAX + 1], int max);

/*
 * Strict unsigned decimal: digits only (at most 19), no sign, no space,
 * value in [min, max].  0 and *val_r set, or -1.
 */
int	 proto_number(const char *s, size_t len, uint64_t min, uint64_t max,
	    uint64_t *val_r);

/*
 * The streaming converter.  Feeds stored message bytes (flags as in
 * SATCHEL_MSG_*) and writes wire bytes: every line ends CRLF (a bare LF
 * becomes CRLF; a CR not followed by LF is kept as is), mboxrd/mboxo
 * ">From " escapes are removed, and when dotstuff is set a line starting
 * with '.' gets one more.  With top set, output stops after the header,
 * the blank line and top_lines body lines.  With SATCHEL_MSG_HIDE, the
 * header lines of Dovecot's mbox metadata are dropped (their name, any
 * LWSP and the ':' within the first PROTO_HNAME_MAX - 1 bytes of the
 * line; folded lines after them too).
 */
#define PROTO_XFER_SLACK	48
#define PROTO_HNAME_MAX		32	/* SATCHEL_MSG_HIDE: name bytes held */

struct proto_xfer {
	uint32_t	 flags;
	int		 dotstuff;
	int		 top;
	uint64_t	 top_lines;
	/* converter state, private to protocol.c */
	uint64_t	 body_lines;	/* TOP: body lines written */
	uint8_t		 bol;		/* at the beginning of an input line */
	uint8_t		 last_cr;	/* last byte written was CR */
	uint8_t		 line;		/* line so far: empty, "\r", text */
	uint8_t		 in_body;	/* TOP: past the blank line */
	uint8_t		 done;		/* TOP: nothing more to write */
	uint8_t		 held_gt;	/* a '>' held back at bol */
	uint8_t		 matched;	/* bytes of "From " held after it */
	/* SATCHEL_MSG_HIDE: the header's state */
	uint8_t		 hdr_done;	/* past the header's end */
	uint8_t		 hiding;	/* the last header line was hidden */
	uint8_t		 hstate;	/* HS_*: matching a name, skipping */
	uint8_t		 hlen;		/* bytes in hbuf */
	uint8_t		 hlwsp;		/* LWSP after the name in hbuf */
	char		 hbuf[PROTO_HNAME_MAX];	/* the line's start, held */
};

void	 proto_xfer_init(struct proto_xfer *x, uint32_t flags, int dotstuff,
	    int top, uint64_t top_lines);
/*
 * Convert inlen bytes.  out must have room for 3 * inlen +
 * PROTO_XFER_SLACK bytes.  Consumes all input; returns bytes written.
 */
size_t	 proto_xfer(struct proto_xfer *x, const char *in, size_t inlen,
	    char *out);
/*
 * Zero-copy: the length of the longest prefix of in[0..inlen) that
 * proto_xfer would write unchanged (CRLF line ends, no line starting
 * with '.', no mbox escape to undo), with x advanced over it exactly as
 * proto_xfer would have, so the caller may send those bytes straight
 * from the file (sendfile) and go on converting from in + the result.
 * Always 0 for TOP.  Pure, no output.
 */
size_t	 proto_xfer_clean(struct proto_xfer *x, const char *in, size_t inlen);
/* True when x is at the beginning of a line (the last byte was a LF). */
#define proto_xfer_bol(x)	((x)->bol != 0)
/*
 * End of message: flush held bytes, end an unfinished line with CRLF
 * (also after a bare CR, as Dovecot does), and when dotstuff is set
 * write the ".\r\n" terminator.  out needs PROTO_XFER_SLACK bytes.
 * Returns bytes written.
 */
size_t	 proto_xfer_end(struct proto_xfer *x, char *out);
/* True when TOP has written all it will: the caller may stop reading. */
int	 proto_xfer_done(const struct proto_xfer *x);

/*
 * RFC 1939 size of stored bytes: what proto_xfer with dotstuff off
 * writes, counted without writing, except the line end that
 * proto_xfer_end adds to an unfinished last line (Dovecot and popa3d
 * do not count it either: a message "a\r\nb" has size 4, and RETR
 * sends "a\r\nb\r\n.\r\n").  Feed chunks with the same *x
 * (initialised with proto_xfer_init(x, flags, 0, 0, 0)); finish with
 * proto_size_end().
 */
uint64_t proto_size(struct proto_xfer *x, const char *in, size_t inlen);
uint64_t proto_size_end(struct proto_xfer *x);

/* ---- sizer for struct satchel_core ------------------------------- */

/*
 * core->msg_size_init/feed/end: proto_size() over the opaque state of
 * struct satchel_msgsize (include/satchel/module.h), which holds a
 * struct proto_xfer.  Pure; run in the mailbox agent as the mail user.
 */
struct satchel_msgsize;
void	 proto_msgsize_init(struct satchel_msgsize *st, uint32_t flags);
uint64_t proto_msgsize_feed(struct satchel_msgsize *st, const char *p,
	    size_t len);
uint64_t proto_msgsize_end(struct satchel_msgsize *st);

#endif /* SATCHEL_PROTOCOL_H */

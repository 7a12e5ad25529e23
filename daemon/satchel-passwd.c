/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * satchel-passwd.c -- make a stored password for a passwd-file (or a
 * database column): "{SCHEME}hash", or a whole passwd-file line with -u.
 * Reads the password from the terminal (twice, without echo) or, when
 * stdin is not a terminal, from its first line.  Runs as any user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "compat/compat.h"
#include "log.h"
#include "password.h"
#include "compat/poison.h"

static void usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: satchel-passwd [-s scheme] [-u user "
	    "[-i uid:gid] [-d home] [-m mail]]\n"
	    "schemes: YESCRYPT (default), SHA512-CRYPT, SHA256-CRYPT, "
	    "BLF-CRYPT,\n         SCRAM-SHA-256, PLAIN\n");
	exit(2);
}

static int
read_line(const char *prompt, char *buf, size_t bufsz, int tty)
{
	struct termios old, noecho;
	size_t len;
	int r = 0;

	if (tty) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == -1)
			return -1;
		noecho = old;
		noecho.c_lflag &= (tcflag_t)~ECHO;
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
	}
	if (fgets(buf, (int)bufsz, stdin) == NULL)
		r = -1;
	if (tty) {
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	if (r == -1)
		return -1;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len > 0 && buf[len - 1] == '\r')
		buf[--len] = '\0';
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *scheme = "YESCRYPT", *user = NULL, *ids = "", *home = "";
	const char *mail = NULL;
	char pw[512], again[512], out[1024];
	int ch, tty = isatty(STDIN_FILENO);

	log_init(1, "user", 0);
	log_procname("satchel-passwd");
	while ((ch = getopt(argc, argv, "d:hi:m:s:u:")) != -1) {
		switch (ch) {
		case 'd':
			home = optarg;
			break;
		case 'i':
			ids = optarg;
			break;
		case 'm':
			mail = optarg;
			break;
		case 's':
			scheme = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (user != NULL && (strchr(user, ':') != NULL ||
	    strchr(home, ':') != NULL || (mail != NULL &&
	    strchr(mail, ' ') != NULL))) {
		fprintf(stderr, "satchel-passwd: ':' is not allowed in a user "
		    "name or home, nor ' ' in a mail location\n");
		return 2;
	}
	if (read_line("Password: ", pw, sizeof(pw), tty) == -1) {
		fprintf(stderr, "satchel-passwd: no password given\n");
		return 1;
	}
	if (tty) {
		if (read_line("Again: ", again, sizeof(again), tty) == -1 ||
		    strcmp(pw, again) != 0) {
			fprintf(stderr, "satchel-passwd: passwords differ\n");
			return 1;
		}
		explicit_bzero(again, sizeof(again));
	}
	if (pw[0] == '\0') {
		fprintf(stderr, "satchel-passwd: empty password refused\n");
		return 1;
	}
	if (password_hash(scheme, pw, out, sizeof(out)) == -1) {
		explicit_bzero(pw, sizeof(pw));
		fprintf(stderr, "satchel-passwd: cannot make a %s hash\n",
		    scheme);
		return 1;
	}
	explicit_bzero(pw, sizeof(pw));
	if (user == NULL)
		printf("%s\n", out);
	else {
		char uid[32] = "", gid[32] = "";
		const char *colon = strchr(ids, ':');

		if (colon != NULL) {
			(void)snprintf(uid, sizeof(uid), "%.*s",
			    (int)(colon - ids), ids);
			strlcpy(gid, colon + 1, sizeof(gid));
		} else if (ids[0] != '\0') {
			fprintf(stderr, "satchel-passwd: -i wants uid:gid\n");
			return 2;
		}
		printf("%s:%s:%s:%s::%s::%s%s\n", user, out, uid, gid, home,
		    mail != NULL ? "mail=" : "", mail != NULL ? mail : "");
	}
	explicit_bzero(out, sizeof(out));
	return 0;
}

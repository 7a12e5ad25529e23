/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * satchelctl.c -- the operator's tool (satchelctl(8), Dovecot's doveadm
 * as the model).  Runs as root, started by the admin; it finds the
 * master's control socket from the same config file as satcheld
 * (control_socket, or beside the pidfile), sends one command line and
 * prints the answer.  For "auth test" the password goes only to the
 * auth pool, after the pool asked for it on this connection: the
 * master hands the connection over before that (control.c,
 * auth_ctl.c).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "compat/compat.h"
#include "conf.h"
#include "control.h"
#include "log.h"
#include "compat/poison.h"

#define PASSWORD_MAX	1024

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: satchelctl [-c FILE] [-s SOCKET] COMMAND [ARGS]\n"
	    "  who                     sessions: user, address, state, "
	    "since, bytes\n"
	    "  kick USER               end USER's sessions (nothing is "
	    "deleted)\n"
	    "  auth test USER [PASS]   ask each auth module about a "
	    "login\n"
	    "  user USER               uid, gid, home and mailbox of USER\n"
	    "  config [-n]             effective configuration (-n: only "
	    "what differs)\n"
	    "  stats                   what the master counts\n"
	    "  reload | stop           as SIGHUP | SIGTERM\n"
	    "  -c FILE  configuration file (default %s/satchel/satchel.conf)\n",
	    SATCHEL_SYSCONFDIR);
	exit(2);
}

/* The socket's path from the config file, read as satcheld reads it. */
static int
socket_from_config(const char *path, char *buf, size_t bufsz)
{
	struct config *cf;
	char *text = NULL;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		fprintf(stderr, "satchelctl: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			char *t;

			cap = cap == 0 ? 8192 : cap * 2;
			if ((t = realloc(text, cap)) == NULL) {
				free(text);
				close(fd);
				return -1;
			}
			text = t;
		}
		if ((n = read(fd, text + len, cap - len)) <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (n == -1) {
		fprintf(stderr, "satchelctl: read %s: %s\n", path,
		    strerror(errno));
		free(text);
		return -1;
	}
	/* Offline: no file checks, no user lookups; only the paths. */
	cf = conf_load_mem(path, text, len, CONF_LOAD_OFFLINE);
	free(text);
	if (cf == NULL) {
		fprintf(stderr, "satchelctl: %s has errors (satcheld -t -c %s "
		    "names them)\n", path, path);
		return -1;
	}
	r = conf_control_path(cf, buf, bufsz);
	conf_free(cf);
	if (r == -1)
		fprintf(stderr, "satchelctl: control socket path too long\n");
	return r;
}

static int
read_password(char *buf, size_t bufsz)
{
	struct termios t, saved;
	FILE *in = stdin;
	int tty = isatty(STDIN_FILENO), echo_off = 0;
	size_t len;

	if (tty) {
		fprintf(stderr, "Password: ");
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &saved) == 0) {
			t = saved;
			t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
			echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0;
		}
	}
	if (fgets(buf, (int)bufsz, in) == NULL)
		buf[0] = '\0';
	if (echo_off)
		(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	if (tty)
		fprintf(stderr, "\n");
	len = strcspn(buf, "\r\n");
	if (buf[len] == '\0' && len == bufsz - 1) {
		fprintf(stderr, "satchelctl: password too long\n");
		return -1;
	}
	buf[len] = '\0';
	return 0;
}

static int
send_all(int fd, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		if ((n = send(fd, p, len, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	const char *conf = SATCHEL_SYSCONFDIR "/satchel/satchel.conf";
	const char *sockpath = NULL;
	struct sockaddr_un sun;
	char path[sizeof(sun.sun_path)], line[CONTROL_LINE_MAX + 2];
	char pass[PASSWORD_MAX + 2], buf[8192], *nl;
	FILE *out = stdout;
	size_t len = 0, i;
	ssize_t n;
	int ch, fd, have_pass = 0, status = 1, ended = 0, auth_ok = 0;
	int is_test = 0;

	while ((ch = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 's':
			sockpath = optarg;
			break;
		default:
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	(void)log_init(1, "daemon", 0);
	log_procname("satchelctl");

	/* "auth test USER [PASS]" goes out as "auth-test USER". */
	line[0] = '\0';
	if (strcmp(argv[0], "auth") == 0) {
		if (argc < 3 || argc > 4 || strcmp(argv[1], "test") != 0)
			usage();
		if (snprintf(line, sizeof(line), "auth-test %s", argv[2]) >=
		    (int)sizeof(line))
			usage();
		if (argc == 4) {
			strlcpy(pass, argv[3], sizeof(pass));
			have_pass = 1;
		}
		is_test = 1;
	} else {
		for (i = 0; i < (size_t)argc; i++) {
			if (strchr(argv[i], ' ') != NULL ||
			    strchr(argv[i], '\n') != NULL) {
				fprintf(stderr, "satchelctl: '%s': no spaces "
				    "or newlines in arguments\n", argv[i]);
				return 2;
			}
			if (i > 0)
				strlcat(line, " ", sizeof(line));
			if (strlcat(line, argv[i], sizeof(line)) >=
			    sizeof(line))
				usage();
		}
	}
	if (strchr(line, '\n') != NULL)
		usage();
	/* Read the password before anything connects: nobody waits on us. */
	if (is_test && !have_pass) {
		if (read_password(pass, sizeof(pass)) == -1)
			return 2;
		have_pass = 1;
	}

	if (sockpath == NULL) {
		if (socket_from_config(conf, path, sizeof(path)) == -1)
			return 2;
		sockpath = path;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlcpy(sun.sun_path, sockpath, sizeof(sun.sun_path)) >=
	    sizeof(sun.sun_path)) {
		fprintf(stderr, "satchelctl: %s: path too long\n", sockpath);
		return 2;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		fprintf(stderr, "satchelctl: %s: %s%s\n", sockpath,
		    strerror(errno), errno == EACCES ? " (satchelctl is for "
		    "root only)" : errno == ENOENT || errno == ECONNREFUSED ?
		    " (is satcheld running with this config?)" : "");
		return 2;
	}
	strlcat(line, "\n", sizeof(line));
	/*
	 * A refusal (not root) may come before the line is taken, and
	 * close the connection under the send: read the answer anyway.
	 */
	(void)send_all(fd, line, strlen(line));

	/* Lines until "+OK" or "-ERR ..." (or EOF). */
	while (!ended) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		while (!ended && (nl = memchr(buf, '\n', len)) != NULL) {
			*nl = '\0';
			if (strcmp(buf, "+OK") == 0) {
				status = is_test && !auth_ok ? 1 : 0;
				ended = 1;
			} else if (strncmp(buf, "-ERR", 4) == 0) {
				fprintf(stderr, "satchelctl: %s\n",
				    buf[4] == ' ' ? buf + 5 : buf + 4);
				ended = 1;
			} else if (strcmp(buf, "+PASSWORD") == 0) {
				/* The auth pool asks: it alone gets it. */
				if (!have_pass) {
					ended = 1;
					break;
				}
				strlcat(pass, "\n", sizeof(pass));
				if (send_all(fd, pass, strlen(pass)) == -1)
					ended = 1;
				explicit_bzero(pass, sizeof(pass));
				have_pass = 0;
			} else {
				if (is_test && strncmp(buf, "result: ok",
				    10) == 0)
					auth_ok = 1;
				fprintf(out, "%s\n", buf);
			}
			len -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, len);
		}
		if (len == sizeof(buf) - 1) {
			fprintf(stderr, "satchelctl: line too long\n");
			break;
		}
	}
	explicit_bzero(pass, sizeof(pass));
	close(fd);
	if (!ended)
		fprintf(stderr, "satchelctl: the server closed the connection "
		    "without an answer\n");
	return status;
}

/*
 * Copyright (c) 2026 The Satchel authors.  ISC licence, see COPYING.
 *
 * tcpceil.c -- the loopback TCP ceiling: one sender and one receiver
 * (forked) over 127.0.0.1, one stream, 256 KiB writes and reads.  Prints
 *   result scenario=tcp-ceiling bytes=B secs=S mbps=M
 * Bounded by -b bytes (default 4 GiB) and -d seconds (default 10).
 *
 * Build: gcc -O2 -o tcpceil tcpceil.c
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHUNK	(256 * 1024)

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char *argv[])
{
	static char buf[CHUNK];
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	uint64_t limit = 4ULL << 30, got = 0;
	double secs = 10, t0, t;
	int ls, fd, ch, on = 1;
	ssize_t n;
	pid_t pid;

	while ((ch = getopt(argc, argv, "b:d:")) != -1) {
		if (ch == 'b')
			limit = strtoull(optarg, NULL, 10);
		else if (ch == 'd')
			secs = atof(optarg);
		else {
			fprintf(stderr, "usage: tcpceil [-b bytes] "
			    "[-d seconds]\n");
			return 2;
		}
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((ls = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    bind(ls, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(ls, 1) == -1 ||
	    getsockname(ls, (struct sockaddr *)&sa, &sl) == -1) {
		perror("tcpceil: listen");
		return 1;
	}
	memset(buf, 'x', sizeof(buf));
	if ((pid = fork()) == -1) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		/* Sender: write until the receiver closes or time is up. */
		signal(SIGPIPE, SIG_IGN);
		close(ls);
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
			_exit(1);
		t0 = now();
		while (now() - t0 < secs + 5)
			if (write(fd, buf, sizeof(buf)) <= 0)
				break;
		_exit(0);
	}
	if ((fd = accept(ls, NULL, NULL)) == -1) {
		perror("accept");
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 1;
	}
	close(ls);
	t0 = now();
	t = t0;
	while (got < limit && (t = now()) - t0 < secs) {
		n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			break;
		got += (uint64_t)n;
	}
	t = now();
	close(fd);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	printf("result scenario=tcp-ceiling bytes=%llu secs=%.3f mbps=%.1f\n",
	    (unsigned long long)got, t - t0, (double)got / (t - t0) / 1e6);
	return 0;
}

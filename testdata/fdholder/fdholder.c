/*
 * fdholder: holds sockets the way the descriptor incidents do, for fdscan's
 * tests. Tests run it inside private network and pid namespaces only, on
 * loopback addresses.
 *
 * usage:
 *   fdholder inherit ADDR PORT CMD
 *       listen on ADDR:PORT (TCP, backlog 16) WITHOUT close-on-exec, print
 *       "ready PID FD", then system(CMD): the shell and what it starts
 *       inherit the listener. Then wait for EOF on stdin.
 *   fdholder system CMD
 *       print "ready PID", then system(CMD), then pause: a process that
 *       hands whatever it was given (say a listener as fd 0) to a shell.
 *   fdholder hoard ADDR PORT
 *       listen on ADDR:PORT (close-on-exec, backlog 64), print "ready PID FD",
 *       then accept forever and never close, printing "accepted N FD".
 *   fdholder unix PATH BACKLOG
 *       listen on the unix stream socket PATH ("@name" for an abstract
 *       name), print "ready PID FD", then wait for EOF on stdin (in the
 *       network namespace it was started in).
 *   fdholder prefork ADDR PORT N
 *       listen on ADDR:PORT (close-on-exec, backlog 16), fork N workers that
 *       share it as a pre-fork server's do, print "ready PID FD", then wait
 *       for EOF on stdin and kill the workers.
 *   fdholder many N NFD KIND
 *       fork N children that each hold NFD more descriptors of KIND: "tcp"
 *       (a listener on 127.0.0.1, port chosen by the kernel, and connected
 *       pairs to it), "unix" (socketpairs) or "file" (/dev/null). Prints
 *       "ready N" once every child holds them, then waits for EOF on stdin
 *       and kills the children.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "fdholder: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int tcp_listen(const char *addr, int port, int flags, int backlog)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM | flags, 0);
	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("setsockopt");
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "fdholder: bad address %s\n", addr);
		exit(2);
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(fd, backlog) < 0)
		die("listen");
	return fd;
}

static void wait_stdin(void)
{
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
}

/* hold makes nfd descriptors of one kind in this process. */
static void hold(int nfd, const char *kind)
{
	int made = 0;
	if (!strcmp(kind, "file")) {
		for (; made < nfd; made++)
			if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0)
				die("open");
	} else if (!strcmp(kind, "unix")) {
		int sv[2];
		for (; made + 1 < nfd; made += 2)
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
				die("socketpair");
		if (made < nfd && socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0)
			die("socket");
	} else if (!strcmp(kind, "tcp")) {
		struct sockaddr_in sa;
		socklen_t len = sizeof sa;
		int l = tcp_listen("127.0.0.1", 0, SOCK_CLOEXEC, 64);
		made = 1;
		if (getsockname(l, (struct sockaddr *)&sa, &len) < 0)
			die("getsockname");
		for (; made + 1 < nfd; made += 2) {
			int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (c < 0 || connect(c, (struct sockaddr *)&sa, sizeof sa) < 0)
				die("connect");
			if (accept4(l, NULL, NULL, SOCK_CLOEXEC) < 0)
				die("accept");
		}
		if (made < nfd && socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) < 0)
			die("socket");
	} else {
		fprintf(stderr, "fdholder: unknown kind %s\n", kind);
		exit(2);
	}
}

static int many(int n, int nfd, const char *kind)
{
	int ready[2];
	pid_t *kids = calloc(n, sizeof *kids);
	if (!kids || pipe2(ready, O_CLOEXEC) < 0)
		die("setup");
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			die("fork");
		if (kids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(ready[0]);
			hold(nfd, kind);
			if (write(ready[1], "r", 1) != 1)
				die("write");
			close(ready[1]);
			for (;;)
				pause();
		}
	}
	close(ready[1]);
	for (int got = 0; got < n;) {
		char c;
		ssize_t r = read(ready[0], &c, 1);
		if (r <= 0) {
			fprintf(stderr, "fdholder: %d of %d children got ready\n", got, n);
			return 1;
		}
		got++;
	}
	printf("ready %d\n", n);
	fflush(stdout);
	wait_stdin();
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	while (wait(NULL) > 0)
		;
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[1], "inherit")) {
		int fd = tcp_listen(argv[2], atoi(argv[3]), 0, 16);
		printf("ready %d %d\n", getpid(), fd);
		fflush(stdout);
		if (system(argv[4]) < 0)
			die("system");
		wait_stdin();
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "system")) {
		printf("ready %d\n", getpid());
		fflush(stdout);
		if (system(argv[2]) < 0)
			die("system");
		for (;;)
			pause();
	}
	if (argc == 4 && !strcmp(argv[1], "hoard")) {
		int l = tcp_listen(argv[2], atoi(argv[3]), SOCK_CLOEXEC, 64);
		printf("ready %d %d\n", getpid(), l);
		fflush(stdout);
		for (int n = 1;; n++) {
			int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				die("accept");
			printf("accepted %d %d\n", n, c);
			fflush(stdout);
		}
	}
	if (argc == 4 && !strcmp(argv[1], "unix")) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l < 0)
			die("socket");
		if (strlen(argv[2]) >= sizeof sa.sun_path) {
			fprintf(stderr, "fdholder: path too long\n");
			return 2;
		}
		socklen_t len = sizeof sa;
		strcpy(sa.sun_path, argv[2]);
		if (argv[2][0] == '@') {
			sa.sun_path[0] = 0;
			len = offsetof(struct sockaddr_un, sun_path) + strlen(argv[2]);
		}
		if (bind(l, (struct sockaddr *)&sa, len) < 0)
			die("bind");
		if (listen(l, atoi(argv[3])) < 0)
			die("listen");
		printf("ready %d %d\n", getpid(), l);
		fflush(stdout);
		wait_stdin();
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "prefork")) {
		int l = tcp_listen(argv[2], atoi(argv[3]), SOCK_CLOEXEC, 16);
		int n = atoi(argv[4]);
		pid_t kids[64];
		if (n < 1 || n > 64) {
			fprintf(stderr, "fdholder: 1 to 64 workers\n");
			return 2;
		}
		for (int i = 0; i < n; i++) {
			kids[i] = fork();
			if (kids[i] < 0)
				die("fork");
			if (kids[i] == 0) {
				prctl(PR_SET_PDEATHSIG, SIGKILL);
				for (;;)
					pause();
			}
		}
		printf("ready %d %d\n", getpid(), l);
		fflush(stdout);
		wait_stdin();
		for (int i = 0; i < n; i++)
			kill(kids[i], SIGKILL);
		while (wait(NULL) > 0)
			;
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "many"))
		return many(atoi(argv[2]), atoi(argv[3]), argv[4]);
	fprintf(stderr, "usage: fdholder inherit ADDR PORT CMD | system CMD | hoard ADDR PORT | unix PATH BACKLOG | prefork ADDR PORT N | many N NFD KIND\n");
	return 2;
}

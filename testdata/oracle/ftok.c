/*
 * ftok oracle: prints the C library's own ftok(3) result for every path and
 * proj id given, so tests can hold the Go implementation against it.
 *
 * usage: ftok PROJ[,PROJ...] PATH...
 * output: one line per path and proj, in argument order: "KEY ERRNO"
 * (KEY is signed decimal key_t; ERRNO is 0 when ftok succeeded).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: ftok PROJ[,PROJ...] PATH...\n");
		return 2;
	}
	int projs[1024];
	int n = 0;
	char *list = strdup(argv[1]);
	for (char *tok = strtok(list, ","); tok != NULL && n < 1024; tok = strtok(NULL, ","))
		projs[n++] = (int)strtol(tok, NULL, 0);
	for (int i = 2; i < argc; i++) {
		for (int j = 0; j < n; j++) {
			errno = 0;
			key_t k = ftok(argv[i], projs[j]);
			printf("%d %d\n", (int)k, k == (key_t)-1 ? errno : 0);
		}
	}
	free(list);
	return 0;
}

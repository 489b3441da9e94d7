/*
 * ftokloop: the C baseline for `ipckeys scan -p PROJ 'PATTERN'`: glob the
 * pattern and call the C library's ftok on every match, nothing else.
 *
 * usage: ftokloop PROJ PATTERN
 */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: ftokloop PROJ PATTERN\n");
		return 2;
	}
	glob_t g;
	if (glob(argv[2], 0, NULL, &g) != 0) {
		fprintf(stderr, "ftokloop: %s matches nothing\n", argv[2]);
		return 1;
	}
	int proj = (int)strtol(argv[1], NULL, 0);
	size_t failed = 0;
	for (size_t i = 0; i < g.gl_pathc; i++)
		failed += ftok(g.gl_pathv[i], proj) == (key_t)-1;
	printf("%zu paths, %zu unusable\n", g.gl_pathc, failed);
	return 0;
}

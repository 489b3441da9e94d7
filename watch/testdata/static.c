/* Gets a shared memory segment of key argv[1] (hex), creating it, prints
 * "shmget ID ERRNO" and waits until its standard input closes. Built with
 * -static, it maps no C library: a uprobe in one does not see its call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s KEY\n", argv[0]);
		return 2;
	}
	int id = shmget((key_t)strtoul(argv[1], 0, 16), 4096, IPC_CREAT | 0600);
	printf("shmget %d %d\n", id, id < 0 ? errno : 0);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

/* A program that derives a key with ftok from argv[1] and proj argv[2],
 * asks shmget for a segment of argv[3] bytes (creating it if need be), and
 * prints "key id errno". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <unistd.h>

static int keyuser(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s PATH PROJ SIZE\n", argv[0]);
		return 2;
	}
	key_t key = ftok(argv[1], atoi(argv[2]));
	int id = shmget(key, strtoul(argv[3], 0, 10), IPC_CREAT | 0600);
	printf("%x %d %d\n", (unsigned)key, id, id < 0 ? errno : 0);
	/* Stay a moment, so the watcher can read /proc/PID/exe. */
	usleep(500000);
	return 0;
}

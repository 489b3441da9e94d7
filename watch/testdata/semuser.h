/* A program that derives a key with ftok from argv[1] and proj argv[2],
 * gets the one-semaphore set of that key (creating it if need be, mode
 * argv[3] in octal), takes and releases the semaphore with semop, and
 * prints "key id errno". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <unistd.h>

static int semuser(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s PATH PROJ MODE\n", argv[0]);
		return 2;
	}
	key_t key = ftok(argv[1], atoi(argv[2]));
	int id = semget(key, 1, IPC_CREAT | (int)strtoul(argv[3], 0, 8));
	int err = id < 0 ? errno : 0;
	if (id >= 0) {
		struct sembuf up = {0, 1, SEM_UNDO}, down = {0, -1, SEM_UNDO};
		if (semop(id, &up, 1) < 0 || semop(id, &down, 1) < 0)
			err = errno;
	}
	printf("%x %d %d\n", (unsigned)key, id, err);
	/* Stay a moment, so the watcher can read /proc/PID/exe. */
	usleep(500000);
	return 0;
}

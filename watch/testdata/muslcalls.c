/* Gets a shared memory segment of key argv[1] (hex), a private message
 * queue, sends it a message, then gets a segment of key argv[2], and
 * prints "ready SHMID MSQID SHMID2" (-1 for a call that failed) and waits
 * until its standard input closes. Built with musl, whose msgsnd makes
 * its system call in the helper of every cancellable call. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s KEY KEY2\n", argv[0]);
		return 2;
	}
	int shm = shmget((key_t)strtoul(argv[1], 0, 16), 4096, IPC_CREAT | 0600);
	int msq = msgget(IPC_PRIVATE, 0600);
	struct {
		long type;
		char text[8];
	} msg = {1, "hi"};
	if (msq >= 0 && msgsnd(msq, &msg, 2, 0) < 0)
		msq = -1;
	int shm2 = shmget((key_t)strtoul(argv[2], 0, 16), 4096, IPC_CREAT | 0600);
	printf("ready %d %d %d\n", shm, msq, shm2);
	fflush(stdout);
	char c;
	while (read(0, &c, 1) > 0)
		;
	return 0;
}

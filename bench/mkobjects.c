/*
 * mkobjects: fills the current IPC namespace for the benchmarks, then holds
 * everything until stdin closes. Run it only inside a private namespace
 * (bench/run.sh uses unshare --ipc).
 *
 * usage: mkobjects NSHM NSEM NMSG NPROC NATTACH
 *   creates NSHM segments, NSEM semaphore sets and NMSG queues, then forks
 *   NPROC processes that each attach the first NATTACH segments.
 * prints "ready" once every process is attached.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: mkobjects NSHM NSEM NMSG NPROC NATTACH\n");
		return 2;
	}
	int nshm = atoi(argv[1]), nsem = atoi(argv[2]), nmsg = atoi(argv[3]);
	int nproc = atoi(argv[4]), nattach = atoi(argv[5]);
	int *ids = calloc(nshm ? nshm : 1, sizeof *ids);
	for (int i = 0; i < nshm; i++)
		if ((ids[i] = shmget(0x10000 + i, 4096, IPC_CREAT | 0600)) < 0) {
			perror("shmget");
			return 1;
		}
	for (int i = 0; i < nsem; i++)
		if (semget(0x20000 + i, 1, IPC_CREAT | 0600) < 0) {
			perror("semget");
			return 1;
		}
	for (int i = 0; i < nmsg; i++)
		if (msgget(0x30000 + i, IPC_CREAT | 0600) < 0) {
			perror("msgget");
			return 1;
		}
	int ready[2];
	if (pipe(ready) < 0)
		return 1;
	for (int p = 0; p < nproc; p++) {
		pid_t pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (int i = 0; i < nattach && i < nshm; i++)
				if (shmat(ids[i], NULL, 0) == (void *)-1) {
					perror("shmat");
					_exit(1);
				}
			char c = 1;
			if (write(ready[1], &c, 1) != 1)
				_exit(1);
			for (;;)
				pause();
		}
	}
	for (int p = 0; p < nproc; p++) {
		char c;
		if (read(ready[0], &c, 1) != 1)
			return 1;
	}
	printf("ready\n");
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	return 0;
}

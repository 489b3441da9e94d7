/*
 * holder: creates and attaches System V IPC objects for ipckeys' tests, then
 * holds them until its standard input closes. Tests run it inside a private
 * IPC namespace only.
 *
 * usage: holder STEP...
 *   shm KEY SIZE MODE    shmget(KEY, SIZE, IPC_CREAT|MODE); prints "shm ID"
 *   shmftok PATH PROJ SIZE MODE
 *                        the same with the key ftok(PATH, PROJ) computes here
 *                        (in this process's mount namespace); prints
 *                        "key KEY" (signed decimal) and "shm ID"
 *   sem KEY NSEMS MODE   semget; prints "sem ID"
 *   msg KEY MODE         msgget; prints "msg ID"
 *   send ID BYTES        msgsnd one message of BYTES bytes to queue ID
 *   attach ID            shmat(ID)
 *   split                mprotect the second page of the last attachment
 *                        read-only: one mapping becomes three
 *   detach               shmdt the last attachment
 *   rmid ID              shmctl(ID, IPC_RMID)
 *   lock ID              shmctl(ID, SHM_LOCK)
 *   fork                 fork: the child holds the same attachments
 * KEY, SIZE and MODE are read with strtol base 0 (0x.., 0.., decimal); an
 * ID of "last" is the segment this holder created last.
 * After the steps it prints "ready PID" and waits for EOF on stdin; a
 * forked child prints "ready PID" too.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <signal.h>

static void die(const char *what)
{
	fprintf(stderr, "holder: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int last_shm = -1;

static long num(const char *s)
{
	if (!strcmp(s, "last"))
		return last_shm;
	return strtol(s, NULL, 0);
}

int main(int argc, char **argv)
{
	char *last = NULL;
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 1; i < argc; i++) {
		const char *op = argv[i];
		if (!strcmp(op, "shm") && i + 3 < argc) {
			int id = shmget((key_t)num(argv[i + 1]), (size_t)num(argv[i + 2]), IPC_CREAT | (int)num(argv[i + 3]));
			if (id < 0)
				die("shmget");
			printf("shm %d\n", id);
			last_shm = id;
			i += 3;
		} else if (!strcmp(op, "shmftok") && i + 4 < argc) {
			key_t k = ftok(argv[i + 1], (int)num(argv[i + 2]));
			if (k == (key_t)-1)
				die("ftok");
			int id = shmget(k, (size_t)num(argv[i + 3]), IPC_CREAT | (int)num(argv[i + 4]));
			if (id < 0)
				die("shmget");
			printf("key %d\nshm %d\n", (int)k, id);
			last_shm = id;
			i += 4;
		} else if (!strcmp(op, "sem") && i + 3 < argc) {
			int id = semget((key_t)num(argv[i + 1]), (int)num(argv[i + 2]), IPC_CREAT | (int)num(argv[i + 3]));
			if (id < 0)
				die("semget");
			printf("sem %d\n", id);
			i += 3;
		} else if (!strcmp(op, "msg") && i + 2 < argc) {
			int id = msgget((key_t)num(argv[i + 1]), IPC_CREAT | (int)num(argv[i + 2]));
			if (id < 0)
				die("msgget");
			printf("msg %d\n", id);
			i += 2;
		} else if (!strcmp(op, "send") && i + 2 < argc) {
			size_t n = (size_t)num(argv[i + 2]);
			struct { long type; char text[8192]; } m = { 1, { 0 } };
			if (n > sizeof m.text || msgsnd((int)num(argv[i + 1]), &m, n, 0) < 0)
				die("msgsnd");
			i += 2;
		} else if (!strcmp(op, "attach") && i + 1 < argc) {
			last = shmat((int)num(argv[i + 1]), NULL, 0);
			if (last == (void *)-1)
				die("shmat");
			i += 1;
		} else if (!strcmp(op, "split")) {
			if (!last || mprotect(last + page, page, PROT_READ) < 0)
				die("mprotect");
		} else if (!strcmp(op, "detach")) {
			if (!last || shmdt(last) < 0)
				die("shmdt");
			last = NULL;
		} else if (!strcmp(op, "rmid") && i + 1 < argc) {
			if (shmctl((int)num(argv[i + 1]), IPC_RMID, NULL) < 0)
				die("shmctl IPC_RMID");
			i += 1;
		} else if (!strcmp(op, "lock") && i + 1 < argc) {
			if (shmctl((int)num(argv[i + 1]), SHM_LOCK, NULL) < 0)
				die("shmctl SHM_LOCK");
			i += 1;
		} else if (!strcmp(op, "fork")) {
			fflush(stdout);
			pid_t pid = fork();
			if (pid < 0)
				die("fork");
			if (pid == 0)
				prctl(PR_SET_PDEATHSIG, SIGKILL);
		} else {
			fprintf(stderr, "holder: bad step %s\n", op);
			return 2;
		}
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	char buf[64];
	while (read(0, buf, sizeof buf) > 0)
		;
	return 0;
}

/* Makes each of the twelve IPC calls through the C library, with failed
 * calls and control calls the watch skips (IPC_STAT, GETVAL), and prints
 * one line for each call the watch should record, from what it passed
 * and what the C library returned:
 *
 *	CALL ID KEY SIZE FLAGS CMD RESULT
 *
 * ID is the object (the result of a get that succeeded, -1 for shmdt),
 * KEY a get call's key, SIZE a get call's size or nsems or the number of
 * operations or bytes, CMD a control call's command, and RESULT the
 * result, or -errno after a failure. Fields a call does not have are 0.
 * Some calls are made through a prototype with long arguments, so that
 * the upper halves of their int arguments' registers hold garbage, as the
 * x86-64 calling convention allows: the kernel reads only the lower ones.
 * Run it in a private IPC namespace: it creates and removes objects. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

#define KEY 0x1badcafe
#define MISSING ((key_t)0xdeadbeef) /* a negative key */
#define GARBAGE 0x5a5a5a5a00000000L /* in an int argument's upper half */

static long result(long r) { return r == -1 ? -errno : r; }

static void say(const char *call, long id, int key, unsigned long size, int flags, int cmd, long ret)
{
	printf("%s %ld %d %lu %d %d %ld\n", call, id, key, size, flags, cmd, ret);
}

static void get(const char *call, int key, unsigned long size, int flags, long r)
{
	say(call, r >= 0 ? r : 0, key, size, flags, 0, r);
}

int main(void)
{
	const int create = IPC_CREAT | 0600;
	long r;

	/* A private object of each kind, removed at once, so that the
	 * objects below do not all have id 0. */
	long old = result(shmget(IPC_PRIVATE, 4096, 0600));
	get("shmget", IPC_PRIVATE, 4096, 0600, old);
	say("shmctl", old, 0, 0, 0, IPC_RMID, result(shmctl(old, IPC_RMID, NULL)));
	old = result(semget(IPC_PRIVATE, 1, 0600));
	get("semget", IPC_PRIVATE, 1, 0600, old);
	say("semctl", old, 0, 0, 0, IPC_RMID, result(semctl(old, 0, IPC_RMID)));
	old = result(msgget(IPC_PRIVATE, 0600));
	get("msgget", IPC_PRIVATE, 0, 0600, old);
	say("msgctl", old, 0, 0, 0, IPC_RMID, result(msgctl(old, IPC_RMID, NULL)));

	long (*shmget_long)(long, unsigned long, long) = (void *)shmget;
	long shm = result(shmget_long(GARBAGE | (unsigned)KEY, 4096, GARBAGE | create));
	get("shmget", KEY, 4096, create, shm);
	r = result(shmget(MISSING, 4096, 0)); /* ENOENT */
	get("shmget", MISSING, 4096, 0, r);
	long (*shmat_long)(long, const void *, long) = (void *)shmat;
	long addr = shmat_long(GARBAGE | shm, NULL, GARBAGE | SHM_RDONLY);
	say("shmat", shm, 0, 0, SHM_RDONLY, 0, addr == -1 ? -errno : addr);
	struct shmid_ds ds;
	shmctl(shm, IPC_STAT, &ds); /* not recorded */
	r = result(shmdt((void *)addr));
	say("shmdt", -1, 0, 0, 0, 0, r);
	r = result(shmctl(shm, IPC_RMID, NULL));
	say("shmctl", shm, 0, 0, 0, IPC_RMID, r);
	r = result(shmctl(shm, IPC_RMID, NULL)); /* EINVAL: removed */
	say("shmctl", shm, 0, 0, 0, IPC_RMID, r);

	long (*semget_long)(long, long, long) = (void *)semget;
	long sem = result(semget_long(KEY, GARBAGE | 1, create));
	get("semget", KEY, 1, create, sem);
	struct sembuf ops[2] = {{0, 1, 0}, {0, -1, 0}};
	/* nsops is a size_t here, an unsigned int to the kernel. */
	r = result(semop(sem, ops, GARBAGE | 2));
#ifdef __GLIBC__
	/* glibc (since 2.31) makes semop's system call as semtimedop's,
	 * with no timeout. */
	say("semtimedop", sem, 0, 2, 0, 0, r);
#else
	say("semop", sem, 0, 2, 0, 0, r);
#endif
	struct timespec timeout = {1, 0};
	r = result(semtimedop(sem, ops, 2, &timeout));
	say("semtimedop", sem, 0, 2, 0, 0, r);
	struct sembuf down = {0, -1, IPC_NOWAIT};
	r = result(semtimedop(sem, &down, 1, &timeout)); /* EAGAIN: the value is 0 */
	say("semtimedop", sem, 0, 1, 0, 0, r);
	semctl(sem, 0, GETVAL); /* not recorded */
	r = result(semctl(sem, 0, IPC_RMID));
	say("semctl", sem, 0, 0, 0, IPC_RMID, r);

	long (*msgget_long)(long, long) = (void *)msgget;
	long msq = result(msgget_long(GARBAGE | (unsigned)KEY, GARBAGE | create));
	get("msgget", KEY, 0, create, msq);
	struct {
		long type;
		char text[8];
	} msg = {1, "hi"};
	r = result(msgsnd(msq, &msg, 2, 0));
	say("msgsnd", msq, 0, 2, 0, 0, r);
	r = result(msgrcv(msq, &msg, sizeof msg.text, 0, 0));
	say("msgrcv", msq, 0, sizeof msg.text, 0, 0, r);
	r = result(msgrcv(msq, &msg, sizeof msg.text, 0, IPC_NOWAIT)); /* ENOMSG: empty */
	say("msgrcv", msq, 0, sizeof msg.text, 0, 0, r);
	struct msqid_ds mds;
	msgctl(msq, IPC_STAT, &mds); /* not recorded */
	r = result(msgctl(msq, IPC_SET, &mds));
	say("msgctl", msq, 0, 0, 0, IPC_SET, r);
	r = result(msgctl(msq, IPC_RMID, NULL));
	say("msgctl", msq, 0, 0, 0, IPC_RMID, r);
	return 0;
}

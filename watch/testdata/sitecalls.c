/* Makes each System V IPC call through the C library and prints, one line
 * a call, what it passed and what it got:
 *
 *	NAME RESULT ERRNO REG=VALUE/BITS ...
 *
 * RESULT is the wrapper's return value (an address for shmat), ERRNO the
 * errno after a failure (0 after a success), and each REG one register the
 * kernel reads an argument from, with how many of its low bits the caller
 * decides (32 for an int, 8 for a command the library may add flags to).
 * Run it in a private IPC namespace: it creates and removes objects. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>

static void say(const char *name, long ret, const char *regs, ...)
{
	int e = ret == -1 ? errno : 0;
	va_list ap;
	printf("%s %ld %d ", name, ret, e);
	va_start(ap, regs);
	vprintf(regs, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

int main(void)
{
	int flags = IPC_CREAT | 0600;
	int shm = shmget(IPC_PRIVATE, 4096, flags);
	say("shmget", shm, "di=0/32 si=4096/64 dx=%d/32", flags);
	long r = shmget(IPC_PRIVATE, 0, flags); /* EINVAL: smaller than SHMMIN */
	say("shmget", r, "di=0/32 si=0/64 dx=%d/32", flags);
	void *p = shmat(shm, NULL, 0);
	say("shmat", (long)p, "di=%d/32 si=0/64 dx=0/32", shm);
	r = shmdt(p);
	say("shmdt", r, "di=%lu/64", (unsigned long)p);
	struct shmid_ds ds;
	r = shmctl(shm, IPC_STAT, &ds);
	say("shmctl", r, "di=%d/32 si=%d/8 dx=%lu/64", shm, IPC_STAT, (unsigned long)&ds);
	r = shmctl(shm, IPC_RMID, NULL);
	say("shmctl", r, "di=%d/32 si=%d/8 dx=0/64", shm, IPC_RMID);
	r = shmctl(shm, IPC_RMID, NULL); /* EINVAL: removed */
	say("shmctl", r, "di=%d/32 si=%d/8 dx=0/64", shm, IPC_RMID);

	int sem = semget(IPC_PRIVATE, 2, flags);
	say("semget", sem, "di=0/32 si=2/32 dx=%d/32", flags);
	struct sembuf up = {0, 1, 0}, down = {0, -1, IPC_NOWAIT};
	r = semop(sem, &up, 1);
	say("semop", r, "di=%d/32 si=%lu/64 dx=1/64", sem, (unsigned long)&up);
	struct timespec ts = {1, 0};
	r = semtimedop(sem, &down, 1, &ts);
	say("semtimedop", r, "di=%d/32 si=%lu/64 dx=1/64 r10=%lu/64", sem, (unsigned long)&down, (unsigned long)&ts);
	r = semtimedop(sem, &down, 1, &ts); /* EAGAIN: the value is 0 */
	say("semtimedop", r, "di=%d/32 si=%lu/64 dx=1/64 r10=%lu/64", sem, (unsigned long)&down, (unsigned long)&ts);
	r = semctl(sem, 1, GETVAL);
	say("semctl", r, "di=%d/32 si=1/32 dx=%d/8", sem, GETVAL);
	r = semctl(sem, 0, IPC_RMID);
	say("semctl", r, "di=%d/32 si=0/32 dx=%d/8", sem, IPC_RMID);

	int msg = msgget(IPC_PRIVATE, flags);
	say("msgget", msg, "di=0/32 si=%d/32", flags);
	struct {
		long type;
		char text[64];
	} m = {1, "hello"}, got;
	r = msgsnd(msg, &m, 5, 0);
	say("msgsnd", r, "di=%d/32 si=%lu/64 dx=5/64 r10=0/32", msg, (unsigned long)&m);
	r = msgrcv(msg, &got, sizeof got.text, 0, IPC_NOWAIT);
	say("msgrcv", r, "di=%d/32 si=%lu/64 dx=%lu/64 r10=0/64 r8=%d/32", msg, (unsigned long)&got, sizeof got.text, IPC_NOWAIT);
	r = msgrcv(msg, &got, sizeof got.text, 0, IPC_NOWAIT); /* ENOMSG: empty */
	say("msgrcv", r, "di=%d/32 si=%lu/64 dx=%lu/64 r10=0/64 r8=%d/32", msg, (unsigned long)&got, sizeof got.text, IPC_NOWAIT);
	r = msgctl(msg, IPC_RMID, NULL);
	say("msgctl", r, "di=%d/32 si=%d/8 dx=0/64", msg, IPC_RMID);
	return 0;
}

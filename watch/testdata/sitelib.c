/* System V IPC wrappers in miniature, built the ways C libraries build
 * theirs: two versions of shmctl at two addresses, semop going on in
 * semtimedop, msgrcv leaving the call to a shared helper, msgget with a
 * second path. Built with -fcf-protection, every function starts with a
 * CET landing pad. The symbols' versions come from sitelib.map. */
static inline long sys(long nr, long a, long b, long c, long d, long e)
{
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
			 : "rcx", "r11", "memory");
	return ret;
}

long shmget(long key, long size, long flags) { return sys(29, key, size, flags, 0, 0); }

long shmctl_old(long id, long cmd, long buf) { return sys(31, id, cmd & 0xff, buf, 0, 0); }
long shmctl_new(long id, long cmd, long buf) { return sys(31, id, cmd, buf, 0, 0); }
__asm__(".symver shmctl_old, shmctl@SITE_1");
__asm__(".symver shmctl_new, shmctl@@SITE_2");

__attribute__((noinline)) long semtimedop(long id, long ops, long n, long timeout)
{
	return sys(220, id, ops, n, timeout, 0);
}
extern long hidden_semtimedop(long, long, long, long)
	__attribute__((alias("semtimedop"), visibility("hidden")));
long semop(long id, long ops, long n) { return hidden_semtimedop(id, ops, n, 0); }

static __attribute__((noinline, noclone)) long helper(long nr, long a, long b, long c, long d, long e)
{
	return sys(nr, a, b, c, d, e);
}
long msgrcv(long id, long p, long size, long type, long flags) { return helper(70, id, p, size, type, flags); }

extern int busy;
long msgget(long key, long flags)
{
	if (busy) {
		long r = sys(68, key, flags, 0, 0, 0);
		busy = r < 0;
		return r;
	}
	return sys(68, key, flags | 1, 0, 0, 0);
}
int busy;

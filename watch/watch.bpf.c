//go:build ignore

// The kernel side of ipckeys watch: it copies the arguments and results of
// the System V IPC calls, and of the C library's ftok, into fixed events on
// a ring buffer. Everything else (names, units, judgement) is done in Go.
//
// Hooks: a uprobe and uretprobe on ftok in each C library, and one of three
// programs for the system calls. Each sees a call as it returns, its
// arguments still in the caller's registers, so one hook sees a call's
// arguments and result:
//
//   - ipc_site, the default, a uprobe on the instruction right after each
//     syscall instruction of the IPC functions (shmget ... msgctl) of each
//     C library, or on the branch that follows it when only a cmp or test
//     comes between (glibc's ja to its error path: the kernel emulates a
//     branch, where it single-steps a cmp, a trap that costs some 15 µs
//     under a hypervisor). The loader finds those sites in the library's
//     code and gives each probe the number of the call made there as its
//     attach cookie. The kernel runs it for those calls only: no other
//     system call pays anything. It sees only the calls made through a
//     probed C library: not those of static or Go programs, nor those a
//     library makes in a helper shared with other calls (musl's msgsnd,
//     msgrcv).
//   - sys_exit_ipc, attached to the per-call tracepoints
//     syscalls:sys_exit_shmget ... sys_exit_msgctl of the twelve calls. It
//     sees every call, and runs for those calls only; but with a syscall
//     tracepoint in use, every system call on the host takes the kernel's
//     slow path and the check of a bitmap, some 6-11 ns. The loader needs
//     the events' ids, which only tracefs publishes: it reads them from a
//     tracefs mount attached nowhere (fsmount), closed at once.
//   - sys_exit, attached to the raw tracepoint sys_exit when the per-call
//     ones cannot be used. It needs no tracefs, but runs on the exit of
//     every system call on the host and filters by number: some 30 ns on
//     every call.
//
// All three fill the same event in one function, emit_call. No entry hook
// keeps the arguments until exit: the registers hold them, and one entry
// program for the twelve tracepoints could not be attached anyway, since
// the kernel refuses a tracepoint program that reads past an event's last
// field (shmdt has one argument, semtimedop four).
//
// Everything is attached through file descriptors and goes away with the
// last of them: nothing is pinned, nothing written to tracefs.

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char __license[] SEC("license") = "Dual MIT/GPL";

// The few kernel types read here, relocated against the running kernel's
// BTF at load time (CO-RE): only the named fields must exist.
struct pt_regs {
	unsigned long r10;
	unsigned long r8;
	unsigned long ax;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;
} __attribute__((preserve_access_index));

struct ns_common {
	unsigned int inum;
} __attribute__((preserve_access_index));

struct ipc_namespace {
	struct ns_common ns;
} __attribute__((preserve_access_index));

struct nsproxy {
	struct ipc_namespace *ipc_ns;
} __attribute__((preserve_access_index));

struct task_struct {
	struct nsproxy *nsproxy;
} __attribute__((preserve_access_index));

#define PATH_LEN 256
#define COMM_LEN 16

// Kinds: the same numbers as watch.Kind.
enum kind {
	KIND_FTOK = 1,
	KIND_SHMGET,
	KIND_SEMGET,
	KIND_MSGGET,
	KIND_SHMAT,
	KIND_SHMDT,
	KIND_SEMOP,
	KIND_SEMTIMEDOP,
	KIND_MSGSND,
	KIND_MSGRCV,
	KIND_SHMCTL,
	KIND_SEMCTL,
	KIND_MSGCTL,
};

// x86-64 system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
enum {
	NR_SHMGET = 29,
	NR_SHMAT = 30,
	NR_SHMCTL = 31,
	NR_SEMGET = 64,
	NR_SEMOP = 65,
	NR_SEMCTL = 66,
	NR_SHMDT = 67,
	NR_MSGGET = 68,
	NR_MSGSND = 69,
	NR_MSGRCV = 70,
	NR_MSGCTL = 71,
	NR_SEMTIMEDOP = 220,
};

struct event {
	__u64 time_ns;  // CLOCK_MONOTONIC
	__u64 cgroup;   // cgroup v2 id
	__s64 ret;      // the call's result: key, id, address, 0, or -errno
	__u64 arg[4];   // the registers the arguments were passed in, whole
	__u32 pid;      // tgid, as the watcher's pid namespace sees it
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u32 ipc_ns;   // inode of the caller's IPC namespace
	__u32 kind;
	__u8 comm[COMM_LEN];
	__u8 path[PATH_LEN]; // ftok's path, NUL-terminated
};

// Emits struct event into the object's BTF, for the Go bindings.
const struct event *unused_event __attribute__((unused));

// The watcher's pid namespace (st_dev and st_ino of /proc/self/ns/pid):
// callers outside it are invisible to the watcher's /proc and skipped.
volatile const __u64 pidns_dev;
volatile const __u64 pidns_ino;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

// drops counts the events the ring buffer had no room for, per CPU.
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

// ftok_calls holds ftok's arguments from entry to return, per thread.
struct ftok_call {
	__u64 path;
	__u64 proj;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, struct ftok_call);
} ftok_calls SEC(".maps");

static __always_inline struct event *reserve(__u32 kind)
{
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(pidns_dev, pidns_ino, &ns, sizeof(ns)))
		return 0;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		__u32 zero = 0;
		__u64 *n = bpf_map_lookup_elem(&drops, &zero);
		if (n)
			__sync_fetch_and_add(n, 1);
		return 0;
	}
	__u64 ugid = bpf_get_current_uid_gid();
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	e->time_ns = bpf_ktime_get_ns();
	e->cgroup = bpf_get_current_cgroup_id();
	e->pid = ns.tgid;
	e->tid = ns.pid;
	e->uid = (__u32)ugid;
	e->gid = ugid >> 32;
	e->ipc_ns = BPF_CORE_READ(task, nsproxy, ipc_ns, ns.inum);
	e->kind = kind;
	e->path[0] = 0;
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	return e;
}

// key_t ftok(const char *path, int proj): the x86-64 calling convention
// passes path in rdi, proj in rsi and returns the key in eax.
SEC("uprobe")
int ftok_enter(struct pt_regs *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct ftok_call c = {.path = ctx->di, .proj = (int)ctx->si};
	bpf_map_update_elem(&ftok_calls, &id, &c, BPF_ANY);
	return 0;
}

SEC("uretprobe")
int ftok_exit(struct pt_regs *ctx)
{
	int key = (int)ctx->ax;
	__u64 id = bpf_get_current_pid_tgid();
	struct ftok_call *c = bpf_map_lookup_elem(&ftok_calls, &id);
	if (!c)
		return 0;
	struct ftok_call call = *c;
	bpf_map_delete_elem(&ftok_calls, &id);
	struct event *e = reserve(KIND_FTOK);
	if (!e)
		return 0;
	e->arg[0] = call.path;
	e->arg[1] = call.proj;
	e->arg[2] = 0;
	e->arg[3] = 0;
	e->ret = key;
	if (bpf_probe_read_user_str(e->path, sizeof(e->path), (const void *)call.path) < 0)
		e->path[0] = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// Where a hook finds the caller's registers: in its own context (a uprobe
// runs in the calling task, on its registers), or in kernel memory it
// copies them from (the tracepoints get a pointer to the saved ones).
enum regs_at {
	REGS_CTX,
	REGS_KERNEL,
};

// emit_call records system call nr, whose arguments are in the caller's
// registers regs, and its result ret: the one place the three system call
// programs fill and submit an event. It is inlined with a constant at, so
// each program keeps only its own kind of read. From kernel memory, each
// register costs a copy: the number is checked first, so the raw
// tracepoint copies nothing more for the calls it does not record. From
// a context, the four are read at once, at fixed offsets, as the verifier
// wants (it refuses a read through a pointer computed from the context,
// which the switch could otherwise make of the command's register).
//
// The control calls are kept for IPC_RMID (0) and IPC_SET (1) only; the
// command may carry IPC_64 (0x100). The registers are copied whole: the
// kernel uses only the low 32 bits of an int argument, and a C library
// may leave the others undefined (Go decodes them as the kernel does).
static __always_inline int emit_call(long nr, struct pt_regs *regs, enum regs_at at, long ret)
{
	unsigned long held[4] = {};
	if (at == REGS_CTX) {
		held[0] = regs->di;
		held[1] = regs->si;
		held[2] = regs->dx;
		held[3] = regs->r10;
		barrier_var(held[0]);
		barrier_var(held[1]);
		barrier_var(held[2]);
		barrier_var(held[3]);
	}
#define ARG(i, r) (at == REGS_CTX ? held[i] : BPF_CORE_READ(regs, r))
	__u32 kind;
	unsigned long cmd = 0;
	switch (nr) {
	case NR_SHMGET: kind = KIND_SHMGET; break;
	case NR_SEMGET: kind = KIND_SEMGET; break;
	case NR_MSGGET: kind = KIND_MSGGET; break;
	case NR_SHMAT: kind = KIND_SHMAT; break;
	case NR_SHMDT: kind = KIND_SHMDT; break;
	case NR_SEMOP: kind = KIND_SEMOP; break;
	case NR_SEMTIMEDOP: kind = KIND_SEMTIMEDOP; break;
	case NR_MSGSND: kind = KIND_MSGSND; break;
	case NR_MSGRCV: kind = KIND_MSGRCV; break;
	case NR_SHMCTL: kind = KIND_SHMCTL; cmd = ARG(1, si); break;
	case NR_MSGCTL: kind = KIND_MSGCTL; cmd = ARG(1, si); break;
	case NR_SEMCTL: kind = KIND_SEMCTL; cmd = ARG(2, dx); break;
	default: return 0;
	}
	if ((cmd & 0xff) > 1)
		return 0;
	struct event *e = reserve(kind);
	if (!e)
		return 0;
	e->arg[0] = ARG(0, di);
	e->arg[1] = ARG(1, si);
	e->arg[2] = ARG(2, dx);
	e->arg[3] = ARG(3, r10);
#undef ARG
	e->ret = ret;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// ipc_site runs as a uprobe on the instruction right after a syscall
// instruction in a C library's IPC function, or on a branch that only a
// cmp or test separates from it; the attach cookie is the number of the
// call made there. syscall clobbers only rcx and r11, so the registers
// still hold the arguments, and rax holds the kernel's result (-errno on
// failure) before the library turns it into errno.
SEC("uprobe")
int ipc_site(struct pt_regs *ctx)
{
	return emit_call(bpf_get_attach_cookie(ctx), ctx, REGS_CTX, ctx->ax);
}

// The record of a syscalls:sys_exit_* event, as its format file in tracefs
// describes it: the common fields, then the call's number and result.
struct syscall_exit {
	__u64 common;
	int nr;
	long ret;
};

// sys_exit_ipc runs on the per-call tracepoints syscalls:sys_exit_NAME of
// the twelve IPC calls; the record holds the number and result, the
// task's saved registers the arguments (bpf_task_pt_regs, Linux 5.15).
SEC("tracepoint")
int sys_exit_ipc(struct syscall_exit *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	return emit_call(ctx->nr, regs, REGS_KERNEL, ctx->ret);
}

// sys_exit(struct pt_regs *regs, long ret) runs on the exit of every
// system call: the number is in the saved orig_ax.
SEC("raw_tp/sys_exit")
int sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	struct pt_regs *regs = (struct pt_regs *)ctx->args[0];
	return emit_call(BPF_CORE_READ(regs, orig_ax), regs, REGS_KERNEL, (long)ctx->args[1]);
}

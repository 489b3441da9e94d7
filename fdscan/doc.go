// Package fdscan reads who holds which socket, from procfs.
//
// A socket outlives the process that made it for as long as any
// descriptor refers to it, and descriptors are copied: fork() copies the
// whole table, and exec() keeps every descriptor whose close-on-exec bit
// is clear. So a listener can be held by its server and, through
// system("…"), by a shell and whatever that shell started; a unix
// listener can outlive its server as fd 0 of a leftover sleep and keep
// accepting connections nobody will read; a server that never closes
// keeps a CLOSE_WAIT socket per departed client. The kernel knows the
// holders only as entries in each process's descriptor table, so fdscan
// reads them all and joins them to the sockets by inode.
//
// A Snapshot is one pass over the root (normally /proc):
//
//   - Processes: for every /proc/PID, the place in the process tree (parent,
//     start time in clock ticks since boot, command name, executable,
//     arguments, the systemd unit from the cgroup path), the network
//     namespace, how many descriptors are open and the soft limit on
//     them, and for processes holding sockets whether systemd socket
//     activation handed them their listeners (LISTEN_FDS and LISTEN_PID in
//     the environment they started with; readable by root). Kernel
//     threads are marked and nothing past their stat is read.
//   - Holders: for every socket inode, each (pid, descriptor) whose
//     /proc/PID/fd/N link is socket:[inode], with the close-on-exec bit
//     from /proc/PID/fdinfo/N. A socket has one inode on the whole host,
//     whatever namespace it is in.
//   - Sockets: the tcp, tcp6, udp, udp6 and unix tables of every network
//     namespace a process is in, read once per namespace through
//     /proc/PID/net of one process in it. A listener's accept queue is in
//     the tcp table; for unix listeners it is only in NETLINK_SOCK_DIAG
//     (UNIX_DIAG_RQLEN), which fdscan asks in each namespace, entering it
//     on a locked thread when it is not the reader's own (which needs
//     CAP_SYS_ADMIN). The same exchange gives tcp listeners' backlog
//     limits.
//
// Nothing about one process is fatal: processes that exit during the
// scan are counted as Vanished, those whose descriptor table cannot be
// read (another user's, without CAP_SYS_PTRACE) as Unreadable, and
// anything else missing (a namespace's listener queues) is a sentence in
// Notes.
//
// Each /proc/PID/fd directory is read with getdents64 and readlinkat on
// the open directory, fdinfo only for socket descriptors, by GOMAXPROCS
// workers with buffers they reuse; nothing is kept for descriptors that
// are not sockets. On the reader's own procfs the open-files limit comes
// from prlimit(2) rather than the text of /proc/PID/limits. The parsers of the files (ParseNetTCP, ParseNetUnix,
// ParseFDInfo, ParseStat, ParseLimits, ParseCgroupUnit) are pure and
// take bytes or a reader, and FS can be rooted at a copy of /proc.
package fdscan

package fdscan

import "golang.org/x/sys/unix"

// System calls as arm64 numbers them: it has only the p* forms of
// epoll_wait, poll and select.
var (
	acceptCalls = []int{unix.SYS_ACCEPT, unix.SYS_ACCEPT4}
	epollCalls  = []int{unix.SYS_EPOLL_PWAIT, unix.SYS_EPOLL_PWAIT2}
	pollCalls   = []int{unix.SYS_PPOLL, unix.SYS_PSELECT6}
	// pollArrayCalls take (struct pollfd *fds, nfds); selectCalls take
	// (nfds, fd_set *readfds, …).
	pollArrayCalls = []int{unix.SYS_PPOLL}
	selectCalls    = []int{unix.SYS_PSELECT6}
	idleCalls      = []int{unix.SYS_WAIT4, unix.SYS_WAITID, unix.SYS_NANOSLEEP, unix.SYS_CLOCK_NANOSLEEP,
		unix.SYS_RT_SIGSUSPEND, unix.SYS_RT_SIGTIMEDWAIT, unix.SYS_FUTEX}
	callNames = map[int]string{
		unix.SYS_ACCEPT: "accept", unix.SYS_ACCEPT4: "accept4", unix.SYS_EPOLL_PWAIT: "epoll_pwait",
		unix.SYS_EPOLL_PWAIT2: "epoll_pwait2", unix.SYS_PPOLL: "ppoll", unix.SYS_PSELECT6: "pselect6",
		unix.SYS_WAIT4: "wait4", unix.SYS_WAITID: "waitid", unix.SYS_NANOSLEEP: "nanosleep",
		unix.SYS_CLOCK_NANOSLEEP: "clock_nanosleep", unix.SYS_RT_SIGSUSPEND: "rt_sigsuspend",
		unix.SYS_RT_SIGTIMEDWAIT: "rt_sigtimedwait", unix.SYS_FUTEX: "futex", unix.SYS_READ: "read",
		unix.SYS_RECVFROM: "recvfrom", unix.SYS_RECVMSG: "recvmsg", unix.SYS_WRITE: "write",
	}
)

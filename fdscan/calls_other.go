//go:build !amd64 && !arm64

package fdscan

// On other architectures the system call numbers are not classified:
// every blocked thread is WaitOther, so no holder is said to serve or not
// serve a socket from what its threads do (epoll sets still count).
var (
	acceptCalls, epollCalls, pollCalls, idleCalls []int
	pollArrayCalls, selectCalls                   []int
	callNames                                     = map[int]string{}
)

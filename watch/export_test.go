package watch

// UseUprobeMulti makes Start attach the system call sites in one
// uprobe_multi link per library when the kernel has them (on), or in a
// uprobe each (off), as on kernels before 6.6; the function it returns
// restores the default.
func UseUprobeMulti(on bool) (restore func()) {
	saved := uprobeMulti
	uprobeMulti = func() bool { return on && saved() }
	return func() { uprobeMulti = saved }
}

package watch

// The BPF object and its Go bindings are generated from watch.bpf.c and
// committed, so that building ipckeys needs no clang. CI regenerates them
// and fails when they differ from what is committed.
//go:generate go run github.com/cilium/ebpf/cmd/bpf2go -target amd64 -type event -output-stem ipcwatch ipcwatch watch.bpf.c -- -I/usr/include/x86_64-linux-gnu -O2 -Wall

//go:build !amd64

package watch

import (
	"errors"
	"runtime"
)

// Options says what to watch.
type Options struct {
	Proc      string
	Libraries []string
	Hooks     HookMode
}

// Watcher is not available on this architecture.
type Watcher struct{}

// ErrClosed is what Next returns after Close.
var ErrClosed = errors.New("watch closed")

var errArch = errors.New("watch is built for amd64 only, not " + runtime.GOARCH + ": its BPF program reads the x86-64 system call registers")

// Requirements reports that this architecture is not supported.
func Requirements() error { return errArch }

// Start reports that this architecture is not supported.
func Start(Options) (*Watcher, error) { return nil, errArch }

// Next is never reached.
func (w *Watcher) Next() (Event, error) { return Event{}, errArch }

// Dropped is never reached.
func (w *Watcher) Dropped() (uint64, error) { return 0, errArch }

// Libraries is never reached.
func (w *Watcher) Libraries() []Library { return nil }

// Hooks is never reached.
func (w *Watcher) Hooks() string { return "" }

// Gaps is never reached.
func (w *Watcher) Gaps() []string { return nil }

// Coverage is never reached.
func (w *Watcher) Coverage(string) (Coverage, error) { return Coverage{}, errArch }

// Uncovered is never reached.
func (w *Watcher) Uncovered(string) ([]UncoveredProcess, error) { return nil, errArch }

// Close is never reached.
func (w *Watcher) Close() error { return nil }

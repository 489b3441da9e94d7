package manifest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// TestReadInChunks: a manifest of unknown size, read in chunks, parses as
// the same text read whole, and a long line across the chunks' seams is
// refused on its own line.
func TestReadInChunks(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, "ch%07d /k/f%d %d\n", i, i%4000, 1+i%250)
	}
	text := b.String()
	whole, err := parse(strings.NewReader(text), "m", len(text))
	if err != nil {
		t.Fatal(err)
	}
	chunked, err := parse(iotest.HalfReader(strings.NewReader(text)), "m", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(whole, chunked) || len(whole.Channels) != strings.Count(text, "\n") {
		t.Errorf("read in chunks: %d channels, read whole: %d; want the same %d", len(chunked.Channels), len(whole.Channels), strings.Count(text, "\n"))
	}
	lines := strings.Count(text[:1<<20-100], "\n")
	long := text[:strings.LastIndexByte(text[:1<<20-100], '\n')+1] + "# " + strings.Repeat("x", maxLine) + "\n"
	_, err = parse(strings.NewReader(long), "m", 0)
	if want := fmt.Sprintf("m:%d: line longer than 65536 bytes", lines+1); err == nil || err.Error() != want {
		t.Errorf("a long line across a chunk's end: %v, want %q", err, want)
	}
}

// TestTooLarge: a manifest file over MaxSize by its size is refused
// before it is read.
func TestTooLarge(t *testing.T) {
	p := filepath.Join(t.TempDir(), "app.manifest")
	if err := os.WriteFile(p, []byte("a /k 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, MaxSize+1); err != nil {
		t.Fatal(err)
	}
	_, err := LoadManifest(p)
	var tl *inputfile.TooLargeError
	if want := p + ": larger than the 128 MiB a manifest may have; split it into several, each given with -m"; !errors.As(err, &tl) || err.Error() != want {
		t.Errorf("LoadManifest(MaxSize+1 bytes): %v, want %q", err, want)
	}
	if _, err := LoadManifest("/dev/zero"); err == nil || err.Error() != "open /dev/zero: is a character device, not a regular file" {
		t.Errorf("LoadManifest(/dev/zero): %v, want it refused as a character device", err)
	}
}

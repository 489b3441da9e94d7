package appconfig

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/internal/inputfile"
)

// TestRead: a file is parsed as Parse parses its bytes; past MaxSize a
// file that would be read as a configuration is an error, one whose first
// bytes show it is none (binary, an extension of no format) a key file,
// judged without reading it whole.
func TestRead(t *testing.T) {
	const text = "[chnl]\nshm_path = \"/data/path_B\"\nshm_proj = \"l\"\n"
	got, err := Read("a.toml", strings.NewReader(text), int64(len(text)))
	want, werr := Parse("a.toml", []byte(text))
	if err != nil || werr != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Read: %+v, %v; Parse: %+v, %v", got, err, want, werr)
	}
	head := strings.Repeat("# generated\n", headSize/12+1)
	for _, tc := range []struct {
		path, head string
		want       string
		notConfig  bool
	}{
		{"big.toml", head, "big.toml: larger than the 64 MiB a configuration file may have; shorten it, or give it as a key file in a manifest (-m)", false},
		{"big", head, "big: larger than the 64 MiB a configuration file may have; shorten it, or give it as a key file in a manifest (-m)", false},
		{"big.conf", "", "big.conf: not a configuration file: binary data", true},
		{"big.log", head, `big.log: not a configuration file: extension ".log" names no configuration format, and it is larger than 64 MiB`, true},
		{"big.conf", head[:headSize-1] + "é", "big.conf: larger than the 64 MiB a configuration file may have; shorten it, or give it as a key file in a manifest (-m)", false},
	} {
		p := filepath.Join(t.TempDir(), tc.path)
		if err := os.WriteFile(p, []byte(tc.head), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(p, 2<<30); err != nil {
			t.Fatal(err)
		}
		c, err := readConfig(p)
		msg := ""
		if err != nil {
			msg = strings.TrimPrefix(err.Error(), filepath.Dir(p)+"/")
		}
		var tl *inputfile.TooLargeError
		if c != nil || msg != tc.want || errors.Is(err, ErrNotConfig) != tc.notConfig || errors.As(err, &tl) == tc.notConfig {
			t.Errorf("Read(%s, 2 GiB): %v, %v; want %q", tc.path, c, err, tc.want)
		}
	}
	// A file whose size said nothing (0, as in procfs) is still cut at
	// MaxSize.
	endless := io.MultiReader(strings.NewReader("k = v\n"), bytes.NewReader(bytes.Repeat([]byte("#\n"), MaxSize/2)))
	if _, err := Read("x.conf", endless, 0); err == nil || err.Error() != "x.conf: larger than the 64 MiB a configuration file may have; shorten it, or give it as a key file in a manifest (-m)" {
		t.Errorf("Read(unknown size, MaxSize+6 bytes): %v", err)
	}
}

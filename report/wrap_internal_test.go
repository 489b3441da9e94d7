package report

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ipckeys/ipckeys/fleet"
)

// TestWrap: lines of at most the width, words kept whole where they fit,
// longer ones broken, nothing lost.
func TestWrap(t *testing.T) {
	tests := []struct {
		in    string
		width int
		want  string
	}{
		{"", 10, ""},
		{"a b c", 10, "a b c"},
		{"channel orders, channel audit", 16, "channel orders,\nchannel audit"},
		{"at /srv/app/a-very-long/key.file now", 10, "at\n/srv/app/a\n-very-long\n/key.file\nnow"},
		{"0123456789", 10, "0123456789"},
		{"ünïcödé wörds", 7, "ünïcödé\nwörds"},
	}
	for _, tc := range tests {
		if got := wrap(tc.in, tc.width); got != tc.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
	}
}

// TestWrapAsBefore holds wrap to the plain way of wrapping it replaced
// (quadratic in a long word's length) on many short strings.
func TestWrapAsBefore(t *testing.T) {
	plain := func(s string, width int) string {
		var lines []string
		line := ""
		for _, w := range strings.Fields(s) {
			for r := []rune(w); len(r) > width; r = []rune(w) {
				if line != "" {
					lines, line = append(lines, line), ""
				}
				lines, w = append(lines, string(r[:width])), string(r[width:])
			}
			switch {
			case line == "":
				line = w
			case len([]rune(line))+1+len([]rune(w)) <= width:
				line += " " + w
			default:
				lines, line = append(lines, line), w
			}
		}
		if line != "" || len(lines) == 0 {
			lines = append(lines, line)
		}
		return strings.Join(lines, "\n")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []rune("ab é主 \n")
	for range 20000 {
		r := make([]rune, rng.IntN(40))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		s, width := string(r), 1+rng.IntN(8)
		if got, want := wrap(s, width), plain(s, width); got != want {
			t.Fatalf("wrap(%q, %d) = %q, want %q", s, width, got, want)
		}
	}
}

// BenchmarkWrapLong: a host's report can carry a message of megabytes;
// the fleet table must render it in time linear in its length. One long
// word is the worst case for breaking.
func BenchmarkWrapLong(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"400KB", 400 << 10}, {"10MB", 10 << 20}} {
		word := strings.Repeat("x", size.n)
		words := strings.Repeat("word ", size.n/5)
		b.Run("wrap/word/"+size.name, func(b *testing.B) {
			for b.Loop() {
				wrap(word, 58)
			}
		})
		b.Run("wrap/words/"+size.name, func(b *testing.B) {
			for b.Loop() {
				wrap(words, 58)
			}
		})
		v := &fleet.View{Hosts: []*fleet.Host{{Name: "host01", Checked: true, Errors: 1, Worst: "error", Failing: true}},
			Findings: []*fleet.Finding{{ID: "1", Code: "key-collision", Severity: "error", Concerns: []string{"channel orders"},
				Hosts: []string{"host01"}, Of: 1, PerHost: []fleet.OnHost{{Host: "host01", Severity: "error", Message: word}}}}}
		b.Run("table/"+size.name, func(b *testing.B) {
			for b.Loop() {
				if err := FleetTable(io.Discard, v, Style{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fixLines names the fix commands of at most namesShown hosts, skips the
// hosts where the finding is suppressed or has no fix, and counts the rest.
func TestFixLines(t *testing.T) {
	f := &fleet.Finding{}
	for i := range 13 {
		on := fleet.OnHost{Host: fmt.Sprintf("h%02d", i), Fixes: []string{fmt.Sprintf("ipckeys rekey /k%d", i)}}
		switch i {
		case 0:
			on.Suppressed = &fleet.Suppressed{Reason: "accepted"}
		case 1:
			on.Fixes = nil
		}
		f.PerHost = append(f.PerHost, on)
	}
	got := fixLines(f)
	var want []string
	for i := 2; i < 12; i++ {
		want = append(want, fmt.Sprintf("fix: h%02d: ipckeys rekey /k%d", i, i))
	}
	want = append(want, "and fixes for 1 more host (-o text lists them)")
	if !slices.Equal(got, want) {
		t.Errorf("fixLines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

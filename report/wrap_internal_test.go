package report

import "testing"

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

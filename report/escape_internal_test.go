package report

import "testing"

// TestGitHubEscapes holds the workflow-command escaping to GitHub's rules
// (actions/toolkit, command.ts): data escapes %, CR and LF; a property
// value also : and ,.
func TestGitHubEscapes(t *testing.T) {
	if got, want := ghData("100% a:b,c\r\nd"), "100%25 a:b,c%0D%0Ad"; got != want {
		t.Errorf("ghData = %q, want %q", got, want)
	}
	if got, want := ghProperty("100% a:b,c\r\nd"), "100%25 a%3Ab%2Cc%0D%0Ad"; got != want {
		t.Errorf("ghProperty = %q, want %q", got, want)
	}
}

// TestClip: a cell shows at most maxCell characters and says what it cut.
func TestClip(t *testing.T) {
	short := "é主x"
	if got := clip(short); got != short {
		t.Errorf("clip(%q) = %q", short, got)
	}
	long := ""
	for range maxCell {
		long += "é"
	}
	if got := clip(long + "abc"); got != long+"… (cut: 3 more bytes; -o text or -o json has all of it)" {
		t.Errorf("clip cut %q", got[len(long):])
	}
}

// Package manpage reads a command's plain-text help into its parts and
// writes them as a roff man page, so `ipckeys help CMD` and ipckeys(1) are
// made from one text and cannot drift apart.
//
// The help text follows the layout every ipckeys command's usage already
// has; Parse reads it as blocks, separated by blank lines or by a change of
// indentation:
//
//	Usage: ipckeys scan [-p PROJ]... PATH...     a synopsis; more synopsis
//	       ipckeys scan --live                    lines are indented to match
//
//	A paragraph: lines that start in column 0.
//
//	  literal text, indented, kept line for line
//
//	  - a list item, continued on lines
//	    indented deeper
//
//	Flags:
//	  -p, --proj PROJ     a definition: the term (flag names and an
//	                      upper-case value name, or the text before two
//	                      spaces), then its description, continued deeper
//	      --no-live       the next one
//
// An indented run is a definition list when its first line is a flag or
// when a later line is indented at least four columns deeper than its
// first: a term followed by its description. Otherwise it is literal.
package manpage

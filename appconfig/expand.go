package appconfig

import (
	"slices"
	"strings"
)

// Env is where variable references in values expand from once the files'
// own variables are looked up (see the package documentation).
type Env struct {
	// Vars are the caller's variables: those of environment files the
	// user names, and the process environment when asked for.
	Vars map[string]string
	// HomeDir returns the home directory of a user, for "~user"; nil
	// resolves no "~user".
	HomeDir func(user string) (dir string, ok bool)
}

// maxExpansion bounds an expanded value: no path is longer (PATH_MAX), and
// variables built from variables would otherwise grow without bound.
const maxExpansion = 4096

// maxUnresolved bounds the references listed as unresolved in one value.
const maxUnresolved = 8

// expansion is a value with its references expanded, and the references
// that could not be.
type expansion struct {
	value      string
	unresolved []string
}

// scope resolves variables for the values of one file, in file order.
type scope struct {
	own       map[string]expansion // the file's variables assigned so far
	inherited map[string]expansion // the including files' variables
	env       *Env
	budget    *budget // bounds the bytes of variables kept
}

func newScope(f *File) *scope {
	size := 0
	for _, s := range f.Settings {
		size += len(s.Value)
	}
	return &scope{own: map[string]expansion{}, inherited: f.inherited, env: f.env, budget: newBudget(size)}
}

// hasVars reports whether a format's top-level settings are variables:
// those of environment files and systemd units.
func hasVars(format string) bool { return format == FormatLines || format == FormatSystemd }

// assign records the variable a setting sets, if it is one: a shell name at
// the top level of a line-format file or a systemd Environment= assignment.
func (sc *scope) assign(s Setting, x expansion) {
	if !isVarName(s.Name) {
		return
	}
	if !sc.budget.spend(len(s.Name) + len(x.value)) {
		x = expansion{value: s.Value, unresolved: []string{"$" + s.Name + " (too many variables to expand)"}}
	}
	sc.own[s.Name] = x
}

func (sc *scope) lookup(name string) (expansion, bool) {
	if x, ok := sc.own[name]; ok {
		return x, true
	}
	if x, ok := sc.inherited[name]; ok {
		return x, true
	}
	if sc.env != nil {
		if v, ok := sc.env.Vars[name]; ok {
			return expansion{value: v}, true
		}
	}
	return expansion{}, false
}

// expand expands a value: "$NAME", "${NAME}", "${NAME:-default}" and
// "${NAME-default}" anywhere, "~" and "~user" at its start. A command
// substitution ("$(cmd)", "`cmd`"), another "${...}" form, a variable that
// is not set and a value that grows past maxExpansion are unresolved: they
// are listed as written and the value is returned as it was.
func (sc *scope) expand(v string) expansion {
	if !strings.ContainsAny(v, "$`~") {
		return expansion{value: v}
	}
	var sb strings.Builder
	var unresolved []string
	miss := func(refs ...string) {
		for _, r := range refs {
			if len(unresolved) < maxUnresolved && !slices.Contains(unresolved, r) {
				unresolved = append(unresolved, r)
			}
		}
	}
	i := 0
	if strings.HasPrefix(v, "~") {
		end := strings.IndexByte(v, '/')
		if end < 0 {
			end = len(v)
		}
		user := v[1:end]
		switch {
		case user == "":
			if x, ok := sc.lookup("HOME"); ok && x.value != "" {
				sb.WriteString(x.value)
				miss(x.unresolved...)
			} else {
				miss("~")
			}
		case sc.env != nil && sc.env.HomeDir != nil && isUserName(user):
			if dir, ok := sc.env.HomeDir(user); ok {
				sb.WriteString(dir)
			} else {
				miss(v[:end])
			}
		default:
			miss(v[:end])
		}
		i = end
	}
	for i < len(v) {
		c := v[i]
		switch {
		case c == '`':
			end := strings.IndexByte(v[i+1:], '`')
			if end < 0 {
				end = len(v)
			} else {
				end += i + 2
			}
			miss(v[i:end])
			i = end
			continue
		case c == '\\' && i+1 < len(v) && (v[i+1] == '$' || v[i+1] == '`'):
			sb.WriteString(v[i : i+2]) // escaped: kept as written
			i += 2
			continue
		case c != '$' || i+1 == len(v):
			sb.WriteByte(c)
			i++
			continue
		}
		// c is '$' and a byte follows.
		switch n := v[i+1]; {
		case n == '(':
			end := closing(v, i+1, '(', ')')
			miss(v[i:end])
			i = end
		case n == '{':
			end := closing(v, i+1, '{', '}')
			ref := v[i:end]
			if !strings.HasSuffix(ref, "}") {
				miss(ref)
				i = end
				continue
			}
			x, ok := sc.braced(ref[2 : len(ref)-1])
			if !ok {
				miss(ref)
			}
			sb.WriteString(x.value)
			miss(x.unresolved...)
			i = end
		case isKeyStart(n):
			end := i + 1
			for end < len(v) && (isKeyStart(v[end]) || '0' <= v[end] && v[end] <= '9') {
				end++
			}
			if x, ok := sc.lookup(v[i+1 : end]); ok {
				sb.WriteString(x.value)
				miss(x.unresolved...)
			} else {
				miss(v[i:end])
			}
			i = end
		default:
			sb.WriteByte(c) // "$1", "$$", a lone "$": kept
			i++
		}
		if sb.Len() > maxExpansion {
			return expansion{value: v, unresolved: []string{v[:min(len(v), 64)] + "... (expands past 4096 bytes)"}}
		}
	}
	if len(unresolved) > 0 {
		return expansion{value: v, unresolved: unresolved}
	}
	if sb.Len() > maxExpansion {
		return expansion{value: v, unresolved: []string{v[:min(len(v), 64)] + "... (expands past 4096 bytes)"}}
	}
	return expansion{value: sb.String()}
}

// braced expands the inside of "${...}": NAME, NAME:-default or
// NAME-default. It reports false for what it does not read.
func (sc *scope) braced(inner string) (expansion, bool) {
	n := 0
	for n < len(inner) && (isKeyStart(inner[n]) || n > 0 && '0' <= inner[n] && inner[n] <= '9') {
		n++
	}
	if n == 0 {
		return expansion{}, false
	}
	name, op := inner[:n], inner[n:]
	x, ok := sc.lookup(name)
	switch {
	case op == "":
		if !ok {
			return expansion{}, false
		}
		return x, true
	case strings.HasPrefix(op, ":-"):
		if ok && x.value != "" {
			return x, true
		}
		return sc.expand(op[2:]), true
	case strings.HasPrefix(op, "-"):
		if ok {
			return x, true
		}
		return sc.expand(op[1:]), true
	}
	return expansion{}, false
}

// closing returns the offset just past the bracket that closes the one at
// open, or len(v) when there is none.
func closing(v string, open int, o, c byte) int {
	depth := 0
	for i := open; i < len(v); i++ {
		switch v[i] {
		case o:
			depth++
		case c:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return len(v)
}

// isVarName reports whether a setting's name is a shell variable name.
func isVarName(name string) bool {
	if name == "" || !isKeyStart(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !isKeyStart(c) && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isUserName reports whether s can be a login name for a passwd lookup.
func isUserName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isKeyStart(c) || '0' <= c && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// varsBefore returns the variables a file has set before line, on top of
// those it inherited: what a file it includes at that line inherits.
func (f *File) varsBefore(line int) map[string]expansion {
	if !hasVars(f.Format) {
		return f.inherited
	}
	sc := newScope(f)
	for i, s := range f.Settings {
		if s.Line >= line {
			break
		}
		sc.assign(s, f.expandSetting(sc, i))
	}
	vars := make(map[string]expansion, len(f.inherited)+len(sc.own))
	for k, x := range f.inherited {
		vars[k] = x
	}
	for k, x := range sc.own {
		vars[k] = x
	}
	return vars
}

// expandSetting expands setting i of f in scope sc: a literal value
// (single-quoted) is taken as written.
func (f *File) expandSetting(sc *scope, i int) expansion {
	s := f.Settings[i]
	if i < len(f.literal) && f.literal[i] {
		return expansion{value: s.Value}
	}
	return sc.expand(s.Value)
}

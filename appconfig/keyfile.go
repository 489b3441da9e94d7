package appconfig

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/ipckeys/ipckeys/ftok"
)

// KeyFileSetting is a setting that names a System V IPC key file: the path a
// service passes to ftok.
type KeyFileSetting struct {
	Setting // Name, Value (the path, unquoted), Line
	// Proj is the proj id a sibling setting gives (HasProj); ProjSetting is
	// that sibling.
	Proj        int
	HasProj     bool
	ProjSetting *Setting
	// Empty is true when the setting names a key file but has no value:
	// the service would call ftok on an empty or undefined path.
	Empty bool
	// Raw is the value as written. Value differs from it when File's
	// KeyFileSettings expanded variables or "~" in it.
	Raw string
	// Unresolved lists, as written, the references in the value that
	// could not be expanded: a variable set nowhere ("$APP_DATA",
	// "${APP_DATA}"), "~" without HOME, "~user" without a home directory,
	// a command substitution ("$(cmd)", "`cmd`"). Value is then Raw: no
	// key should be made from it, and the caller says which reference is
	// missing.
	Unresolved []string
}

// ValidatePattern checks a setting-name pattern for KeyFileSettings.
func ValidatePattern(p string) error {
	if p == "" {
		return errors.New("empty setting pattern: write a glob over dotted setting names, such as '*.shm_path'")
	}
	if _, err := path.Match(strings.ToLower(p), ""); err != nil {
		return fmt.Errorf("setting pattern %q is not a valid glob: check its [ ] brackets and backslashes", p)
	}
	return nil
}

// KeyFileSettings returns the settings of c that name key files, in file
// order, each with the proj id of its sibling proj setting when there is one.
// A setting given more than once (the same name, compared case-sensitively)
// counts once, at its last line: the later value is the one the service
// reads. Values are returned as written; File's KeyFileSettings expands
// variables in them.
//
// With no patterns the default rule decides (see the package documentation).
// Patterns are globs (path.Match) over the dotted setting names, both
// lower-cased, and replace the default rule: a setting whose name matches one
// is a key-file setting whatever its value, Empty when it has none.
//
// It fails, with an *Error naming the line, when a key-file setting's value
// is malformed (an unterminated quote) or its sibling proj setting is not a
// proj id, and when a pattern is not valid.
func KeyFileSettings(c *Config, patterns []string) ([]KeyFileSetting, error) {
	if c == nil {
		return nil, nil
	}
	return keyFileSettings(&File{Config: c}, patterns)
}

// KeyFileSettings returns the settings of f that name key files, as the
// function KeyFileSettings does, with "$NAME", "${NAME}",
// "${NAME:-default}", "${NAME-default}" and a leading "~" or "~user"
// expanded in their values (see the package documentation for where
// variables come from). The default rule judges the expanded value, or the
// value as written when a reference is unresolved.
func (f *File) KeyFileSettings(patterns []string) ([]KeyFileSetting, error) {
	if f == nil || f.Config == nil {
		return nil, nil
	}
	return keyFileSettings(f, patterns)
}

func keyFileSettings(f *File, patterns []string) ([]KeyFileSetting, error) {
	c := f.Config
	for _, p := range patterns {
		if err := ValidatePattern(p); err != nil {
			return nil, err
		}
	}
	r := rule{config: c, patterns: patterns}
	last := make(map[string]int, len(c.Settings))
	for i, s := range c.Settings {
		last[s.Name] = i
	}
	var sc *scope
	if f.env != nil {
		sc = newScope(f)
	}
	var out []KeyFileSetting
	for i := range c.Settings {
		s := c.Settings[i]
		raw := s.Value
		var unresolved []string
		if sc != nil && s.Malformed == "" {
			x := f.expandSetting(sc, i)
			if hasVars(c.Format) {
				sc.assign(s, x)
			}
			s.Value, unresolved = x.value, x.unresolved
		}
		if last[s.Name] != i {
			continue // set again further on
		}
		ok, empty := r.match(s)
		if !ok {
			continue
		}
		if s.Malformed != "" {
			return nil, newError(c.Path, s.Line, "%s: %s", s.Name, s.Malformed)
		}
		k := KeyFileSetting{Setting: s, Empty: empty, Raw: raw, Unresolved: unresolved}
		if sib := r.projSibling(s.Name, i); sib != nil {
			proj, err := siblingProj(*sib)
			if err != nil {
				return nil, newError(c.Path, sib.Line, "%s, the proj id for %s: %v", sib.Name, s.Name, err)
			}
			k.Proj, k.HasProj = proj, true
			cp := *sib
			k.ProjSetting = &cp
		}
		out = append(out, k)
	}
	return out, nil
}

// siblingProj reads a sibling proj setting's value.
func siblingProj(s Setting) (int, error) {
	switch {
	case s.Malformed != "":
		return 0, errors.New(s.Malformed)
	case !s.Set || s.Value == "":
		return 0, errors.New("the proj id is empty: set it, or remove the setting")
	case s.Quoted && len(s.Value) == 1 && '0' <= s.Value[0] && s.Value[0] <= '9':
		// In C '1' is the character (49); unquoted, 1 is the number. A
		// wrong guess gives another key without any error.
		c := s.Value[0]
		return 0, fmt.Errorf("proj id %q is ambiguous: write %d or 0x%x for the character '%c', %c for the number", s.Value, c, c, c, c)
	}
	return ftok.ParseProj(s.Value)
}

// rule decides which settings of one config name key files.
type rule struct {
	config   *Config
	patterns []string
	byName   map[string]int // lower-cased name -> index of its last setting
	tlsScope map[string]bool
}

// match reports whether s names a key file, and whether it does so with an
// empty value. A malformed value matches on the name alone.
func (r *rule) match(s Setting) (ok, empty bool) {
	empty = !s.Set || (s.Value == "" && s.Malformed == "")
	if len(r.patterns) > 0 {
		name := strings.ToLower(s.Name)
		for _, p := range r.patterns {
			if m, _ := path.Match(strings.ToLower(p), name); m {
				return true, empty
			}
		}
		return false, false
	}
	n := classify(s.Name)
	if n.excluded || !(n.ipc || n.keyFile) {
		return false, false
	}
	switch {
	case s.Malformed != "":
		return n.pathish || strings.Contains(s.Value, "/"), false
	case empty:
		return n.pathish, true
	case isCommand(s.Value) || !isPathValue(s.Value, n.pathish) || isOtherFile(s.Value, !n.ipc):
		return false, false
	case path.Ext(s.Value) == ".ipc" && !n.keyFile && !n.sysv:
		// geth's IPCPath = "geth.ipc": a socket, as .ipc files are.
		return false, false
	case !n.ipc && r.inTLSScope(s.Name):
		// A bare key_file beside a cert_file is a TLS key.
		return false, false
	}
	return true, false
}

// projSuffixes are the last tokens of a proj setting, lower-cased, as they
// follow a key-file setting's prefix.
var projSuffixes = []string{
	"proj", "projid", "proj_id", "proj-id",
	"ftok_proj", "ftok-proj", "ftokproj", "ftok.proj",
	"ftok_proj_id", "ftok-proj-id", "ftok_projid", "ftokprojid",
}

// keyIDSuffixes follow the prefix of a "key path" or "key file" setting
// (Boost.Interprocess's xsi_key_path and xsi_key_id): "id" after the prefix
// that keeps "key", "key_id" after the one without it. A bare "id" is a
// proj id only there: user_id beside shm_path is something else.
var (
	keyIDSuffixes   = []string{"id"}
	keyIDSuffixesNo = []string{"key_id", "key-id", "keyid", "key.id"}
)

// projSibling finds the proj setting for the key-file setting name: one with
// the same prefix (the name less its last token, or less its last two when
// they are "key path" or "key file") followed by a proj suffix, or else one
// directly in the same section or map ("chnl.proj" for "chnl.shm_path"; not
// at the top level, where "proj" may well mean a project). When several are
// set, the last in the file wins, as in most readers. self is the key-file
// setting's index, which is never its own sibling.
func (r *rule) projSibling(name string, self int) *Setting {
	if r.byName == nil {
		r.byName = make(map[string]int, len(r.config.Settings))
		for i, s := range r.config.Settings {
			r.byName[strings.ToLower(s.Name)] = i
		}
	}
	toks := tokenize(name)
	if len(toks) == 0 {
		return nil
	}
	type prefix struct {
		p     string
		extra []string // suffixes beyond projSuffixes
	}
	prefixes := []prefix{{p: name[:toks[len(toks)-1].start]}}
	if len(toks) >= 2 && toks[len(toks)-2].word == "key" && keyFollow[toks[len(toks)-1].word] {
		prefixes[0].extra = keyIDSuffixes
		prefixes = append(prefixes, prefix{name[:toks[len(toks)-2].start], keyIDSuffixesNo})
	} else if len(toks) >= 2 && toks[len(toks)-2].word == "key" {
		prefixes = append(prefixes, prefix{p: name[:toks[len(toks)-2].start]})
	}
	if parent := parentName(name); parent != "" {
		prefixes = append(prefixes, prefix{p: parent + "."})
	}
	for _, pre := range prefixes {
		p := strings.ToLower(pre.p)
		best := -1
		for _, suf := range slices.Concat(projSuffixes, pre.extra) {
			if i, ok := r.byName[p+suf]; ok && i > best && i != self {
				best = i
			}
		}
		if best >= 0 {
			return &r.config.Settings[best]
		}
	}
	return nil
}

// inTLSScope reports whether a setting beside name (the same dotted parent)
// names a certificate or TLS: then a key file there is a private key.
func (r *rule) inTLSScope(name string) bool {
	if r.tlsScope == nil {
		r.tlsScope = map[string]bool{}
		for _, s := range r.config.Settings {
			for _, t := range tokenize(s.Name) {
				if tlsWords[t.word] {
					r.tlsScope[strings.ToLower(parentName(s.Name))] = true
					break
				}
			}
		}
	}
	return r.tlsScope[strings.ToLower(parentName(name))]
}

func parentName(name string) string {
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return ""
}

// nameClass is what a setting's name says about it.
type nameClass struct {
	ipc      bool // mentions shared memory, semaphores, message queues, IPC or ftok
	sysv     bool // as ipc, by a word other than plain "ipc"
	keyFile  bool // says key file or key path
	pathish  bool // says path, file or directory
	excluded bool // is about crypto, TLS, SSH, sockets, POSIX names, logs
}

var (
	ipcWords = set("shm", "shmem", "sem", "sema", "semaphore", "msg", "msgq", "ipc", "sysv", "ftok")
	// ipcSuffixes make one token of an IPC word and what follows: shmpath,
	// ipckey, ftokfile.
	ipcSuffixes = set("path", "file", "key", "keyfile", "keypath", "dir", "filename")
	pathWords   = set("path", "file", "filename", "filepath", "pathname", "keyfile", "keypath", "dir", "directory")
	keyFollow   = set("file", "path", "filename", "pathname")
	// excludedWords mark names that are not System V IPC key files even when
	// they mention IPC or key files: cryptographic keys and certificates,
	// SSH host keys, API and session secrets, sockets and pipes (IPC that
	// is not System V), namespaces, POSIX shm_open/sem_open names, logs, pid
	// files, and templates or prefixes of paths rather than paths.
	excludedWords = set(
		"ssl", "tls", "ssh", "sshd", "gpg", "pgp", "gnupg",
		"cert", "certs", "certificate", "certificates", "crt", "ca", "cacert",
		"private", "priv", "privkey", "public", "pubkey", "host", "hostkey",
		"crypt", "crypto", "encrypt", "encrypted", "encryption", "decrypt", "decryption", "cipher",
		"secret", "secrets", "jwt", "jwk", "jwks", "api", "apikey",
		"signing", "sign", "signature", "hmac", "rsa", "dsa", "ecdsa", "ed25519", "x509",
		"pem", "pkcs", "pkcs11", "pkcs12", "p12", "pfx", "keystore", "truststore", "keytab",
		"krb5", "kerberos", "sasl", "oauth", "token", "auth", "password", "passwd",
		"credential", "credentials", "license", "licence", "dkim", "session", "cookie",
		"socket", "sock", "pipe", "fifo", "namespace", "netns", "posix", "mqueue",
		"url", "uri", "endpoint", "log", "logs", "logfile", "pid", "pidfile",
		"format", "fmt", "template", "pattern", "prefix", "suffix", "glob", "regex", "regexp",
		// Stores, spools, models, indexes and caches: files and
		// directories of data (msg_store_file, msg_spool_dir,
		// sem_model_path where sem is semantic, shm_cache_file), not key
		// files.
		"store", "stores", "storage", "spool", "model", "models", "index", "indexes", "cache", "cached",
	)
	tlsWords = set("ssl", "tls", "cert", "certs", "certificate", "crt", "ca", "cacert")
)

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

// classify reads a setting's name token by token.
func classify(name string) nameClass {
	var n nameClass
	toks := tokenize(name)
	hasName := false
	for i, t := range toks {
		w := t.word
		if ipcWords[w] {
			n.ipc = true
			n.sysv = n.sysv || w != "ipc"
		} else if rest := ipcCompound(w); rest != "" {
			n.ipc = true
			n.sysv = n.sysv || !strings.HasPrefix(w, "ipc")
			n.pathish = n.pathish || pathWords[rest]
		}
		if w == "keyfile" || w == "keypath" || (w == "key" && i+1 < len(toks) && keyFollow[toks[i+1].word]) {
			n.keyFile = true
		}
		if pathWords[w] {
			n.pathish = true
		}
		if excludedWords[w] {
			n.excluded = true
		}
		hasName = hasName || w == "name"
	}
	// shm_name, sem_name: shm_open and sem_open take "/name", not a file.
	if hasName && !n.pathish {
		n.excluded = true
	}
	return n
}

// ipcCompound returns what follows the IPC word a token starts with
// (shmpath: "path"), or "".
func ipcCompound(w string) string {
	for p := range ipcWords {
		if rest, ok := strings.CutPrefix(w, p); ok && ipcSuffixes[rest] {
			return rest
		}
	}
	return ""
}

// token is one word of a setting name, lower-cased, with its byte span.
type token struct {
	start, end int
	word       string
}

// tokenize splits a name into words at every character that is not a letter
// or digit and at camelCase boundaries: "chnl_shm_path", "chnl.shm.path",
// "chnlShmPath" and "ChnlSHMPath" all give chnl, shm, path.
func tokenize(name string) []token {
	var toks []token
	start := -1
	var prev rune
	flush := func(end int) {
		if start >= 0 {
			toks = append(toks, token{start, end, strings.ToLower(name[start:end])})
			start = -1
		}
	}
	for i, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush(i)
			prev = 0
			continue
		}
		if start >= 0 && unicode.IsUpper(r) {
			next, _ := utf8.DecodeRuneInString(name[i+utf8.RuneLen(r):])
			if !unicode.IsUpper(prev) || unicode.IsLower(next) {
				flush(i)
			}
		}
		if start < 0 {
			start = i
		}
		prev = r
	}
	flush(len(name))
	return toks
}

// isPathValue reports whether a value reads as a file path: not a number, a
// boolean, a size, a URL, a glob or a printf template, and either path-shaped
// (/a, ./a, ~/a, a/b) or a plain file name under a name that says path, file
// or directory.
func isPathValue(v string, pathish bool) bool {
	if v == "" || strings.ContainsAny(v, "\n\r\x00*%") || strings.Contains(v, "://") {
		return false
	}
	if isBoolWord(v) || isNumber(v) || isSize(v) {
		return false
	}
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "~") || strings.HasPrefix(v, "./") || strings.HasPrefix(v, "../") || strings.Contains(v, "/") {
		return true
	}
	return pathish && !strings.ContainsAny(v, " \t,;=")
}

// isCommand reports whether a value is or holds a shell command
// substitution, $(...) or `...`: its path is known only when the shell runs.
func isCommand(v string) bool {
	return strings.Contains(v, "$(") || strings.Contains(v, "`")
}

func isBoolWord(v string) bool {
	switch strings.ToLower(v) {
	case "true", "false", "yes", "no", "on", "off", "y", "n",
		"enable", "enabled", "disable", "disabled", "none", "null", "nil", "-":
		return true
	}
	return false
}

func isNumber(v string) bool {
	if _, err := strconv.ParseInt(v, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseFloat(v, 64); err == nil && strings.ContainsAny(v, "0123456789") {
		return true
	}
	return false
}

// isSize reports values such as 64M, 1.5GB, 10s: digits and a short unit.
func isSize(v string) bool {
	i := 0
	for i < len(v) && ('0' <= v[i] && v[i] <= '9' || v[i] == '.') {
		i++
	}
	if i == 0 || len(v)-i > 3 {
		return false
	}
	for _, c := range v[i:] {
		if !unicode.IsLetter(c) {
			return false
		}
	}
	return true
}

// otherExts are the extensions of keys, certificates, keystores and sockets.
var otherExts = set(".pem", ".crt", ".cer", ".der", ".p12", ".pfx", ".jks", ".csr", ".pub", ".asc", ".gpg", ".p7b", ".keystore", ".truststore", ".keytab", ".sock", ".socket")

// cryptoDirs are directories that hold keys and certificates.
var cryptoDirs = set("ssl", "tls", "certs", "certificates", "pki", ".ssh", ".gnupg", "gnupg", "letsencrypt", "acme")

// isOtherFile reports whether a path is plainly a cryptographic key, a
// certificate or a socket: by its extension, or by a directory on its way.
// With strict (the name says only "key file"), a .key file counts too.
func isOtherFile(v string, strict bool) bool {
	v = strings.ToLower(v)
	ext := path.Ext(v)
	if otherExts[ext] || (strict && ext == ".key") {
		return true
	}
	parts := strings.Split(v, "/")
	for _, d := range parts[:len(parts)-1] {
		if cryptoDirs[d] {
			return true
		}
	}
	return false
}

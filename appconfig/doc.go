// Package appconfig reads the settings of application configuration files and
// says which of them name System V IPC key files: the paths services pass to
// ftok. Two services running the same code with
//
//	chnl_shm_path : /data/path_B    (B.conf)
//	chnl_shm_path : /data/path_C    (C.conf)
//
// each call ftok(conf.chnl_shm_path, 'l'); the key files are named inside the
// configs, and those are the files whose keys may collide.
//
// Parse turns a file's bytes into flat settings: dotted names ("section.key",
// "outer.inner.key", "list.0.key"), unquoted values and line numbers. It knows
// four formats. The line format covers INI ("key = value" under "[section]"),
// the "key : value" and "key value" lines of C and C++ service configs, and
// shell environment files ("export NAME=\"value\""), with '#', ';' and "//"
// comments; it is lenient, skipping lines it cannot read, so that system files
// with syntaxes of their own never fail. YAML (go.yaml.in/yaml/v4, aliases
// and merge keys followed within a budget), JSON (encoding/json) and TOML
// (github.com/pelletier/go-toml/v2) are strict when the extension names them:
// a syntax error is an *Error with file and line. Files that are not
// recognisably configs (binary data, more than MaxSize bytes, an unknown
// extension) give ErrNotConfig: they are key files themselves.
package appconfig

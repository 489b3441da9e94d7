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
// comments (also after a quoted value: key = "/x" ; note); it is lenient,
// skipping lines it cannot read, so that system files with syntaxes of their
// own never fail. Its bytes need not be UTF-8: names and values keep them as
// written, since paths on Linux are bytes. YAML (go.yaml.in/yaml/v4, aliases
// and merge keys followed within a budget), JSON (encoding/json) and TOML
// (github.com/pelletier/go-toml/v2) are strict when the extension names them:
// a syntax error is an *Error with file and line. Files that are not
// recognisably configs (binary data, an unknown extension) give ErrNotConfig:
// they are key files themselves. A config holds at most MaxSize bytes (64
// MiB); a longer one is an error, not skipped. Read reads a file's bytes
// for Parse within that bound.
//
// KeyFileSettings picks the settings that name key files. By default a
// setting's name is split into words (at '.', '_', '-' and camelCase) and must
// mention shared memory, semaphores, message queues or ftok (shm, sem, msg,
// ipc, sysv, ftok, or compounds such as shmpath), or a key file ("keyfile",
// "key_file", "KeyPath"), and must not be about cryptography, TLS or SSH
// (ssl, tls, ssh, cert, private, host, secret, api, signing...), sockets,
// namespaces, logs, pid files, POSIX shm_open names (shm_name), or stores,
// spools, models, indexes and caches (msg_store_file, sem_model_path). Its value
// must read as a path: not a number, boolean, size or URL, and either
// path-shaped (/data/b, ./b, ~/b, a/b) or a plain file name under a name that
// says path, file or dir, so "chnl_shm_path : path_B" counts and
// "kernel.shmmax = 68719476736" does not. A value holding a shell command
// substitution ($(...), `...`) is not taken, nor a .ipc file (a socket, as
// geth's IPCPath = "geth.ipc") unless the name says key file or names shared
// memory, semaphores or message queues. A bare "key_file" is not taken when
// its value is a .key, .pem or certificate path or a certificate setting sits
// beside it. A name that passes with a path word but has no value is returned
// Empty. Patterns (globs over the dotted names) replace this rule for
// deployments whose names it misses. A setting given more than once in a file
// (the same dotted name, compared case-sensitively in every format) counts
// once, with its last value, at its last line, as the service reads it.
//
// A key-file setting takes its proj id from a sibling: the setting with the
// same prefix (the name less its last word, or less "key path"/"key file")
// followed by proj, proj_id, projid or ftok_proj, or else such a setting
// directly in the same section or map. chnl_shm_path pairs with
// chnl_shm_proj, ipc.shm.keyfile with ipc.shm.proj, chnl.shm_path with
// chnl.proj_id. A "key path" or "key file" setting also pairs with the same
// prefix followed by key_id (Boost.Interprocess's xsi_key_path and
// xsi_key_id); a bare "id" counts only there, so user_id or shm_id beside
// shm_path is not a proj id. The value is read as ftok.ParseProj reads it (l, 108, 0x6c);
// a quoted single digit ("1") is refused as ambiguous, since C's '1' is 49.
// A sibling that is not a proj id is an error naming its line: a guess would
// give another key without a word.
//
// # Includes, systemd units and variables
//
// ParseFile reads a file as Parse does and also keeps what Parse leaves out.
// In the line format, include directives are not settings but Includes:
// "include FILE", "Include FILE", ".include FILE", "@include FILE",
// "!include FILE", MySQL's "!includedir DIR", nginx's "include
// conf.d/*.conf;", Apache's "IncludeOptional", PostgreSQL's "include_dir" and
// "include_if_exists", and "include = FILE" outside any [section] (inside
// one, "include" is often an application's own setting). systemd units
// (.service, .socket, .timer, .mount, and .conf drop-ins under a "*.d"
// directory that hold a [Unit], [Service], [Socket], [Timer], [Mount] or
// [Install] section) are read in FormatSystemd: "Section.Key" settings,
// except that each assignment of Environment= is a setting named by its
// variable (Environment="SHM_KEY_FILE=/x" "B=2" gives SHM_KEY_FILE and B),
// and EnvironmentFile= is an include read as an environment file ("-"
// before the path: it may be missing).
//
// Loader.Load reads a file and, depth first, the files it includes, through
// an FS the caller gives (HostFS reads this host). Relative names are taken
// from the including file's directory; globs are expanded in sorted order;
// "!includedir" and "include_dir" read a directory's *.cnf and *.conf
// files. A plain include of a missing file is an error; a glob that matches
// nothing, an optional include and a directory that is empty or missing are
// not, as in nginx and most readers. A file included twice in one chain is an error naming
// the chain; a file included from two places is read once; chains are at
// most Loader.MaxDepth files deep. An included file that Parse would not
// take by its name (nginx's mime.types) is read in the line format.
//
// File.KeyFileSettings expands "$NAME", "${NAME}", "${NAME:-default}" and
// "${NAME-default}" in values, and "~" or "~user" at their start. A variable
// is looked up in this order: the same file's assignments above the value (a
// top-level NAME=value of the line format, or an Environment= assignment),
// then those of the files that include it, above their include lines, then
// Env.Vars, which the caller fills (environment files the user names; the
// process environment only on request). "~" is HOME found the same way;
// "~user" is Env.HomeDir. Single-quoted values and escaped "\$" are taken as
// written, as the shell takes them, and so are Environment= values, which
// systemd does not expand. A reference that cannot be resolved — a variable
// set nowhere, a command substitution — is listed in
// KeyFileSetting.Unresolved and the value is left as written: no key should
// be made from it. The function KeyFileSettings, given a Config alone,
// expands nothing.
package appconfig

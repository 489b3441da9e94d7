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
//
// KeyFileSettings picks the settings that name key files. By default a
// setting's name is split into words (at '.', '_', '-' and camelCase) and must
// mention shared memory, semaphores, message queues or ftok (shm, sem, msg,
// ipc, sysv, ftok, or compounds such as shmpath), or a key file ("keyfile",
// "key_file", "KeyPath"), and must not be about cryptography, TLS or SSH
// (ssl, tls, ssh, cert, private, host, secret, api, signing...), sockets,
// namespaces, logs, pid files or POSIX shm_open names (shm_name). Its value
// must read as a path: not a number, boolean, size or URL, and either
// path-shaped (/data/b, ./b, ~/b, a/b) or a plain file name under a name that
// says path, file or dir, so "chnl_shm_path : path_B" counts and
// "kernel.shmmax = 68719476736" does not. A bare "key_file" is not taken when
// its value is a .key, .pem or certificate path or a certificate setting sits
// beside it. A name that passes with a path word but has no value is returned
// Empty. Patterns (globs over the dotted names) replace this rule for
// deployments whose names it misses.
//
// A key-file setting takes its proj id from a sibling: the setting with the
// same prefix (the name less its last word, or less "key path"/"key file")
// followed by proj, proj_id, projid or ftok_proj, or else such a setting
// directly in the same section or map. chnl_shm_path pairs with
// chnl_shm_proj, ipc.shm.keyfile with ipc.shm.proj, chnl.shm_path with
// chnl.proj_id. The value is read as ftok.ParseProj reads it (l, 108, 0x6c);
// a quoted single digit ("1") is refused as ambiguous, since C's '1' is 49.
// A sibling that is not a proj id is an error naming its line: a guess would
// give another key without a word.
package appconfig

package main

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/appconfig"
	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/ftok"
	"github.com/ipckeys/ipckeys/internal/inputfile"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
	"github.com/ipckeys/ipckeys/resolve"
)

// configFlags are how scan, ls and explain -f read application configs.
type configFlags struct {
	settings   []string // --setting: patterns replacing the default rule
	base       string   // --base: where the services run
	envFiles   []string // --env: the services' environment files
	processEnv bool     // --process-env: this process's environment too
	env        map[string]string
}

const configUsage = `      --setting PATTERN   take the config settings whose dotted name matches
                          PATTERN (case-insensitive glob, '*.shm_path') as
                          key-file settings, instead of the default rule;
                          repeatable
      --base DIR          resolve relative key-file paths in configs from DIR
                          (where the services run), not the config's directory
      --env FILE          expand $VAR in key-file settings from this
                          environment file (NAME=value lines) after the
                          config's own assignments; repeatable
      --process-env       expand them from this process's environment too,
                          after the --env files
`

func addConfigFlags(fl *pflag.FlagSet) *configFlags {
	c := &configFlags{}
	fl.StringArrayVar(&c.settings, "setting", nil, "")
	fl.StringVar(&c.base, "base", "", "")
	fl.StringArrayVar(&c.envFiles, "env", nil, "")
	fl.BoolVar(&c.processEnv, "process-env", false, "")
	return c
}

func (c *configFlags) check() error {
	for _, p := range c.settings {
		if err := appconfig.ValidatePattern(p); err != nil {
			return usagef("--setting: %v", err)
		}
	}
	if c.base != "" {
		var st unix.Stat_t
		if err := unix.Stat(c.base, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
			return usagef("--base %s: not a directory: name the directory the services run in", audit.Display(c.base))
		}
		if abs, err := filepath.Abs(c.base); err == nil {
			c.base = abs
		}
	}
	env, err := loadEnv(c.envFiles, c.processEnv)
	if err != nil {
		return err
	}
	c.env = env
	return nil
}

// loadEnv reads the --env files, later files and then the process
// environment overriding earlier ones.
func loadEnv(files []string, process bool) (map[string]string, error) {
	env := map[string]string{}
	for _, name := range files {
		data, err := inputfile.ReadFile(name, inputfile.TooLargeError{File: name, Limit: appconfig.MaxSize, What: "an environment file", Fix: "give the service's environment file itself"})
		if err != nil {
			return nil, usagef("--env %s: %v", audit.Display(name), unwrapPathError(err))
		}
		vars, err := appconfig.ParseEnv(name, data)
		if err != nil {
			return nil, usagef("--env %s: %v", audit.Display(name), err)
		}
		for k, v := range vars {
			env[k] = v
		}
	}
	if process {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
	}
	return env, nil
}

// request is what a command was told to check.
type request struct {
	projFlags []string
	manifests []string
	args      []string     // positional paths: key files or configs
	configs   *configFlags // nil: positional paths are key files only
	static    bool         // --static: never look at a key file
	view      *view
}

// checked is what a request resolves to.
type checked struct {
	entries   []audit.Entry
	chans     []manifest.Channel  // from manifests
	listeners []manifest.Listener // from manifests
	inputs    []report.Input      // what each positional file was taken as
	findings  []audit.Finding     // about the inputs themselves
}

// configured reads the -p proj ids, the -m manifests and the positional
// paths (globs expanded; configs read for their key-file settings) as
// entries: package resolve decides what each input is.
func configured(r request) (*checked, error) {
	projs, err := parseProjs(r.projFlags)
	if err != nil {
		return nil, err
	}
	req := resolve.Request{Projs: uniqueProjs(projs), Manifests: r.manifests, Args: r.args, Static: r.static, Stdin: stdin.take}
	if r.view != nil {
		req.View = r.view.resolveView()
	}
	if r.configs != nil {
		req.Configs = &resolve.Configs{Settings: r.configs.settings, Base: r.configs.base, Env: r.configs.env}
	}
	// The paths, their stat results and the entries live until the
	// report is written: the collector waits until they are made (or the
	// heap has grown by 256 MiB).
	defer holdCollector(256 << 20)()
	got, err := resolve.Resolve(req)
	var ue *resolve.UsageError
	if errors.As(err, &ue) {
		return nil, usageError{ue.Msg}
	}
	if err != nil {
		return nil, err
	}
	return &checked{entries: got.Entries, chans: got.Channels, listeners: got.Listeners, inputs: got.Inputs, findings: got.Findings}, nil
}

// uniqueProjs drops proj ids given twice: each path gets each once.
func uniqueProjs(projs []int) []int {
	var out []int
	for _, p := range projs {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// parseProjs reads the -p values.
func parseProjs(values []string) ([]int, error) {
	projs := make([]int, 0, len(values))
	for _, v := range values {
		p, err := ftok.ParseProj(v)
		if err != nil {
			return nil, usageError{"-p: " + err.Error()}
		}
		projs = append(projs, p)
	}
	return projs, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

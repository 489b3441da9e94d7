package resolve

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/ipckeys/ipckeys/appconfig"
	"github.com/ipckeys/ipckeys/audit"
	"github.com/ipckeys/ipckeys/internal/inputfile"
	"github.com/ipckeys/ipckeys/manifest"
	"github.com/ipckeys/ipckeys/report"
)

// config reads path, and the files it includes, as application configs.
// It reports false, and records why, when the file is not one or names no
// key file: then it is a key file, as every positional path was before
// configs were read. A file that looks like a config and cannot be read is
// an error.
func (b *builder) config(path string, kf keyFile) (bool, error) {
	keyFile := func(why string) (bool, error) {
		b.inputs = append(b.inputs, report.Input{Path: path, TakenAs: "key file", Why: why})
		return false, nil
	}
	fsys := viewFS{view: b.req.View}
	if kf.err == nil && kf.file.Size > appconfig.MaxSize {
		// Judged by its first bytes, never read whole.
		if f, err := fsys.open(path); err == nil {
			_, err = appconfig.Read(path, f, kf.file.Size)
			f.Close()
			if errors.Is(err, appconfig.ErrNotConfig) {
				return keyFile("not a configuration file: " + notConfigWhy(err))
			}
			return false, err
		}
	}
	loader := appconfig.Loader{FS: fsys, Env: appconfig.Env{Vars: b.req.Configs.Env, HomeDir: b.homeDir}}
	files, err := loader.Load(path)
	var nr *inputfile.NotRegularError
	switch {
	case err == nil:
	case errors.As(err, &nr):
		return keyFile(nr.Kind + ", not a regular file")
	case errors.Is(err, fs.ErrNotExist) && b.req.Static:
		return keyFile("no such file here: --static does not look for key files")
	case errors.Is(err, appconfig.ErrNotConfig):
		return keyFile("not a configuration file: " + notConfigWhy(err))
	case isReadError(err) && appconfig.ConfigName(path):
		// Its name says it is a config: a gate that took it as a key
		// file would pass without reading the settings it holds.
		return false, fmt.Errorf("config %s: %v: its key-file settings cannot be checked; run as a user who can read it", audit.Display(path), unwrapPathError(err))
	case isReadError(err):
		// Unreadable, and nothing says it is a config: ftok itself needs
		// only stat, and the key-file checks say what is wrong with it.
		return keyFile("not readable: " + unwrapPathError(err).Error())
	default:
		return false, err
	}
	settings := make([][]appconfig.KeyFileSetting, len(files))
	total := 0
	for i, f := range files {
		if settings[i], err = f.KeyFileSettings(b.req.Configs.Settings); err != nil {
			return false, err
		}
		total += len(settings[i])
	}
	if total == 0 {
		rule := "no setting names a key file by the default rule"
		if len(b.req.Configs.Settings) > 0 {
			rule = "no setting matches --setting"
		}
		if len(files) > 1 {
			rule += fmt.Sprintf(", nor in the %d files it includes", len(files)-1)
		}
		return keyFile(fmt.Sprintf("%s format, but %s", files[0].Format, rule))
	}
	if len(settings[0]) == 0 {
		// The named file holds no key-file setting itself, but its
		// includes do: it is a config all the same.
		b.inputs = append(b.inputs, report.Input{Path: path, TakenAs: "config", Format: files[0].Format, Why: "its includes name the key files"})
	}
	for i, f := range files {
		b.configChannels(f, settings[i])
	}
	if st, err := b.files.statPath(path); err == nil {
		b.configs = append(b.configs, configFile{path: path, dev: st.Dev, ino: st.Ino})
	}
	return true, nil
}

// configChannels adds the channels of one config file's key-file settings.
func (b *builder) configChannels(f *appconfig.File, settings []appconfig.KeyFileSetting) {
	if len(settings) == 0 {
		return
	}
	path := f.Path
	in := report.Input{Path: path, TakenAs: "config", Format: f.Format}
	if len(f.Chain) > 0 {
		in.Why = "included from " + f.Chain[len(f.Chain)-1]
	}
	for _, s := range settings {
		is := report.InputSetting{Name: s.Name, Line: s.Line, Value: s.Value}
		if len(s.Unresolved) > 0 {
			b.findings = append(b.findings, audit.Finding{Code: audit.SettingUnresolved, Severity: audit.Warning,
				Where: &audit.Place{File: path, Line: s.Line},
				Message: fmt.Sprintf("%s (%s:%d) = %s refers to %s, which cannot be resolved: no key is computed from it, so its collisions go unchecked; set the variable earlier in the file, give the service's environment with --env FILE, or use --process-env",
					audit.Display(s.Name), audit.Display(path), s.Line, audit.Display(s.Raw), audit.Display(strings.Join(s.Unresolved, ", ")))})
			in.Settings = append(in.Settings, is)
			continue
		}
		c := &manifest.Channel{Name: path + ":" + s.Name, Path: s.Value, File: path, Line: s.Line, Setting: s.Name, Base: b.req.Configs.Base}
		if s.Empty {
			c.Path = ""
		}
		switch {
		case s.HasProj:
			proj := s.Proj
			is.Proj = &proj
			c.Proj = proj
			b.channel(c, proj, true)
		case len(b.projs) == 0:
			b.channel(c, 0, false)
		default:
			for _, p := range b.projs {
				b.channel(c, p, true)
			}
		}
		in.Settings = append(in.Settings, is)
	}
	b.inputs = append(b.inputs, in)
}

// notConfigWhy is the reason an ErrNotConfig gives.
func notConfigWhy(err error) string {
	_, why, _ := strings.Cut(err.Error(), appconfig.ErrNotConfig.Error()+": ")
	return why
}

// isReadError reports whether err says a file could not be opened or read
// (permission, I/O), rather than what its content is.
func isReadError(err error) bool {
	var pe *fs.PathError
	return errors.As(err, &pe) || errors.Is(err, fs.ErrPermission) || errors.Is(err, unix.EIO)
}

// homeDir looks a user's home directory up in the view's /etc/passwd, for
// "~user" in config values.
func (b *builder) homeDir(user string) (string, bool) {
	data, err := viewFS{view: b.req.View}.ReadFile("/etc/passwd")
	if err != nil {
		return "", false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 6 && fields[0] == user && fields[5] != "" {
			return fields[5], true
		}
	}
	return "", false
}

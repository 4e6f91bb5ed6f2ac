package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/dossier"
)

// systemConfig is where the install steps put the configuration; commands
// run without -config on a counter PC use it.
const systemConfig = "/etc/sohoa/sohoa.yaml"

// configChoice is the configuration a command uses and why.
type configChoice struct {
	Path string // "" for the embedded defaults
	Why  string // "-config", "$SOHOA_CONFIG", "the installed configuration", "the embedded defaults"
}

// chooseConfig finds the configuration: the -config flag, else
// $SOHOA_CONFIG (env), else the installed file system if it exists, else the
// embedded defaults.
func chooseConfig(flag, env, system string) configChoice {
	switch {
	case flag != "":
		return configChoice{flag, "-config"}
	case env != "":
		return configChoice{env, "$SOHOA_CONFIG"}
	}
	if _, err := os.Stat(system); !errors.Is(err, fs.ErrNotExist) {
		return configChoice{system, "the installed configuration"} // unreadable: Load says why
	}
	return configChoice{"", "the embedded defaults"}
}

func (c configChoice) String() string {
	if c.Path == "" {
		return c.Why + " (no -config, no $SOHOA_CONFIG, no " + systemConfig + ")"
	}
	return c.Path + " (" + c.Why + ")"
}

// load loads the chosen configuration. The embedded defaults' paths are
// relative to the working directory (./var), made absolute here.
func (c configChoice) load() (config.Config, error) {
	if c.Path == "" {
		return config.Parse(nil)
	}
	return config.Load(c.Path)
}

// loadGrammar loads the config as loadConfig does and compiles its
// dossier-code pattern.
func loadGrammar(path string, stderr io.Writer) (config.Config, *dossier.Grammar, error) {
	cfg, err := loadConfig(path, stderr)
	if err != nil {
		return cfg, nil, err
	}
	g, err := dossier.NewGrammar(cfg.Link.Pattern)
	return cfg, g, err
}

// loadConfig loads the configuration a command uses (chooseConfig; path is
// its -config flag) and, when it was not given with -config, says on
// stderr which one it is.
func loadConfig(path string, stderr io.Writer) (config.Config, error) {
	c := chooseConfig(path, os.Getenv("SOHOA_CONFIG"), systemConfig)
	if path == "" {
		fmt.Fprintln(stderr, "sohoa: using", c)
	}
	return c.load()
}

// showConfig prints, for `sohoa check -config FILE`, the files the
// configuration was merged from and the result, secrets hidden.
func showConfig(stdout, stderr io.Writer, path string, cfg config.Config) int {
	files, err := config.Files(path)
	if err == nil {
		var b []byte
		if b, err = cfg.Shown(); err == nil {
			fmt.Fprintf(stdout, "# read in this order, a later file winning: %s\n", strings.Join(files, ", "))
			fmt.Fprintf(stdout, "# the configuration in effect (defaults included, secrets hidden):\n%s", b)
			return 0
		}
	}
	fmt.Fprintln(stderr, "sohoa check:", err)
	return 1
}

package main

import (
	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/dossier"
)

// loadGrammar loads the config and compiles its dossier-code pattern.
func loadGrammar(path string) (config.Config, *dossier.Grammar, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return cfg, nil, err
	}
	g, err := dossier.NewGrammar(cfg.Link.Pattern)
	return cfg, g, err
}

// loadConfig loads the config file at path, or the embedded defaults when
// path is empty.
func loadConfig(path string) (config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ConfD is the folder, beside the config file, whose *.yaml files hold
// the part of the configuration a province shares among its counters
// (upload endpoint, auth, registry pull): /etc/sohoa/conf.d for
// /etc/sohoa/sohoa.yaml. They are read in name order (10-upload.yaml
// before 20-registry.yaml), then the config file itself: a key set in a
// later file wins; mappings merge key by key, a list or a value is
// replaced whole. Other names (.dpkg-dist, .bak, hidden files) are left
// alone.
const ConfD = "conf.d"

// layer is one YAML file of the configuration.
type layer struct {
	name string // the file; "" for Parse's bytes
	data []byte
	root yaml.Node
}

// Files lists the files Load reads for the config file path, in the order
// it reads them: the conf.d files, then path.
func Files(path string) ([]string, error) {
	dir := filepath.Join(filepath.Dir(path), ConfD)
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read config folder: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".yaml") || e.IsDir() {
			continue
		}
		files = append(files, filepath.Join(dir, name))
	}
	slices.Sort(files) // ReadDir sorts already; the order is the contract
	return append(files, path), nil
}

// readLayers reads the files Load merges for path.
func readLayers(path string) ([]layer, error) {
	files, err := Files(path)
	if err != nil {
		return nil, err
	}
	layers := make([]layer, len(files))
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read config: %w", err)
		}
		layers[i] = layer{name: f, data: b}
	}
	return layers, nil
}

// decode decodes the layer over c, strictly: an unknown key is an error
// that names it and its line.
func (l *layer) decode(c *Config) error {
	if err := yaml.Unmarshal(l.data, &l.root); err != nil {
		return cleanYAMLError(err, &l.root)
	}
	if len(bytes.TrimSpace(l.data)) == 0 {
		return nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(l.data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) { // EOF: comments only
		return cleanYAMLError(err, &l.root)
	}
	return nil
}

// named prefixes err with the layer's file name.
func (l *layer) named(err error) error {
	if l.name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", l.name, err)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/registry/search"
	"github.com/sohoa/sohoa/ingest/store"
)

// newPuller builds the provincial search-API pull configured in
// registry.pull, feeding the store's registry; nil when no URL is set.
func newPuller(cfg config.Config, g *dossier.Grammar, st *store.Store, reg prometheus.Registerer, log *slog.Logger) (run func(context.Context), err error) {
	p := cfg.Registry.Pull
	if p.URL == "" {
		return nil, nil
	}
	client, auth, err := province.New(p.HTTPConfig, time.Duration(p.ConnectTimeout), time.Duration(p.Timeout))
	var ke *province.KeyError
	if errors.As(err, &ke) {
		return nil, fmt.Errorf("registry.pull.%s: %w", ke.Key, ke.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("registry.pull: %w", err)
	}
	sc := p.SearchConfig()
	sc.Client, sc.Auth, sc.Grammar, sc.Ward = client, auth, g, cfg.Ward.Code
	sc.Logger, sc.Registerer = log, reg
	puller, err := search.New(sc)
	if err != nil {
		return nil, fmt.Errorf("registry.pull: %w", err)
	}
	sink := func(_ context.Context, rows []dossier.Record) error {
		stats, err := st.PutRegistry(rows, store.SourcePull, time.Now())
		if err != nil {
			return err
		}
		log.Info("received dossiers pulled into the registry", "dossiers", len(rows),
			"added", stats.Added, "updated", stats.Updated, "unchanged", stats.Unchanged)
		return nil
	}
	return func(ctx context.Context) { puller.Run(ctx, sink) }, nil
}

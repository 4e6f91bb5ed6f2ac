package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/registry"
	"github.com/sohoa/sohoa/ingest/registry/search"
	"github.com/sohoa/sohoa/ingest/store"
	"github.com/sohoa/sohoa/ingest/upload"
)

// newPuller builds the provincial search-API pull configured in
// registry.pull, feeding the store's registry; nil when no URL is set.
func newPuller(cfg config.Config, g *dossier.Grammar, st *store.Store, reg prometheus.Registerer, log *slog.Logger) (run func(context.Context), err error) {
	p := cfg.Registry.Pull
	if p.URL == "" {
		return nil, nil
	}
	client, err := upload.NewClient(p.TransportConfig())
	if err != nil {
		return nil, fmt.Errorf("registry.pull: %w", err)
	}
	tokens := &http.Client{Transport: client.Transport, Timeout: time.Minute}
	auth, err := upload.NewAuth(p.Auth.AuthConfig(), tokens, nil)
	if err != nil {
		return nil, fmt.Errorf("registry.pull.auth: %w", err)
	}
	sc := p.SearchConfig()
	sc.Client, sc.Auth, sc.Grammar, sc.Ward = client, auth, g, cfg.Ward.Code
	sc.Logger, sc.Registerer = log, reg
	puller, err := search.New(sc)
	if err != nil {
		return nil, fmt.Errorf("registry.pull: %w", err)
	}
	sink := func(_ context.Context, rows []registry.Row) error {
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

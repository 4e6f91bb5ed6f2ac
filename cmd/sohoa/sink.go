package main

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/sohoa/sohoa/cmd/sohoa/config"
	"github.com/sohoa/sohoa/ingest/province"
	"github.com/sohoa/sohoa/ingest/upload"
)

// newSink builds the configured upload sink. For http it reads the
// secrets now, so that a missing credential stops the daemon at start.
func newSink(c config.Upload) (upload.Sink, error) {
	switch c.Sink {
	case "dir":
		host, _ := os.Hostname()
		d := upload.DirSink{Root: c.Dir.Path, RequireMount: c.Dir.RequireMount, Link: c.Dir.Link, Tag: host}
		// Partial files this machine left when it was killed mid-write.
		if _, err := d.RemoveStale(); err != nil {
			return nil, err
		}
		return d, nil
	case "http":
		client, auth, err := province.New(c.HTTP.HTTPConfig, time.Duration(c.HTTP.ConnectTimeout),
			time.Duration(c.HTTP.ResponseHeaderTimeout))
		var ke *province.KeyError
		if errors.As(err, &ke) {
			return nil, ke.Err // an unreadable secret: its error says which
		}
		if err != nil {
			return nil, err
		}
		hc := c.HTTP.UploadConfig()
		hc.Client, hc.Auth, hc.Limiter = client, auth, upload.NewLimiter(int64(c.HTTP.RateLimit))
		return upload.NewHTTPSink(hc)
	}
	return nil, fmt.Errorf("unknown sink %q", c.Sink)
}

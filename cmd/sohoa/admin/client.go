package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"
)

// ErrNotRunning means no daemon answers on the admin socket.
var ErrNotRunning = errors.New("sohoa is not running")

// Client talks to a running daemon over its admin socket. It is safe for
// concurrent use.
type Client struct {
	path string
	http *http.Client
}

// Dial connects to the daemon whose data dir is dataDir, to check that it
// answers. The error wraps ErrNotRunning when there is no socket or nobody
// listens on it, and fs.ErrPermission when this user may not use it.
func Dial(dataDir string) (*Client, error) {
	path := SocketPath(dataDir)
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		return nil, dialError(path, err)
	}
	c.Close()
	d := &net.Dialer{Timeout: 2 * time.Second}
	return &Client{path: path, http: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", path)
			},
			ResponseHeaderTimeout: 20 * time.Second,
			MaxIdleConns:          1,
			IdleConnTimeout:       10 * time.Second,
		},
	}}, nil
}

func dialError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w (no admin socket at %s)", ErrNotRunning, path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot use the admin socket %s: %w (run as the daemon's user, or a member of its group)", path, err)
	}
	return fmt.Errorf("admin socket %s: %w", path, err)
}

// Parked lists the parked uploads.
func (c *Client) Parked(ctx context.Context) ([]Parked, error) {
	var list []Parked
	err := c.do(ctx, http.MethodGet, "/parked", nil, &list)
	return list, err
}

// Retry asks the daemon to requeue the parked uploads req selects.
func (c *Client) Retry(ctx context.Context, req RetryRequest) (RetryResult, error) {
	var res RetryResult
	err := c.do(ctx, http.MethodPost, "/retry", req, &res)
	return res, err
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// The host is never used: the transport dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://sohoa"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return dialError(c.path, err)
		}
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e errorBody
		if json.Unmarshal(b, &e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		if resp.StatusCode == http.StatusBadRequest {
			return fmt.Errorf("%w: %s", ErrBadRequest, strings.TrimPrefix(e.Error, ErrBadRequest.Error()+": "))
		}
		return fmt.Errorf("admin %s %s: daemon answered: %s", method, path, e.Error)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("admin %s %s: %w", method, path, err)
	}
	return nil
}

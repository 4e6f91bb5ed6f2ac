package search

import (
	"context"
	"fmt"
	"time"

	"github.com/sohoa/sohoa/ingest/dossier"
	"github.com/sohoa/sohoa/ingest/province"
)

// logItems caps how many bad or foreign items one pull logs one by one.
const logItems = 20

// Run pulls at once and then every Interval over the window that ends
// today, handing each complete (or page-limited) pull's rows to sink. A
// pull that fails, or whose rows sink refuses, is tried again after a
// backoff that grows from Backoff.Min to the Interval. Run returns when ctx
// ends.
func (p *Puller) Run(ctx context.Context, sink func(context.Context, []dossier.Record) error) {
	retry := province.Backoff{Min: p.c.Backoff.Min, Max: max(p.c.Interval, p.c.Backoff.Min)}
	failures := 0
	for {
		wait := p.c.Interval
		if err := p.PullOnce(ctx, sink); err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait = retry.Delay(failures, p.c.Rand)
			p.log.Error("registry pull failed", "err", err, "failures", failures, "retry_in", wait)
		} else {
			failures = 0
		}
		if p.c.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// PullOnce pulls the window that ends today and hands the rows to sink,
// recording the result in the metrics and the log.
func (p *Puller) PullOnce(ctx context.Context, sink func(context.Context, []dossier.Record) error) error {
	from, to := p.Window(p.c.Now())
	res, err := p.Pull(ctx, from, to)
	if err != nil {
		if ctx.Err() == nil {
			p.metrics.pulls.WithLabelValues(ResultFailure).Inc()
		}
		return err
	}
	p.report(res)
	if err := sink(ctx, res.Rows); err != nil {
		if ctx.Err() == nil {
			p.metrics.pulls.WithLabelValues(ResultFailure).Inc()
		}
		return fmt.Errorf("store %d pulled dossiers: %w", len(res.Rows), err)
	}
	result := ResultSuccess
	if !res.Complete {
		result = ResultIncomplete
	}
	p.metrics.pulls.WithLabelValues(result).Inc()
	p.metrics.dossiers.Add(float64(len(res.Rows)))
	p.metrics.lastSuccess.Set(float64(p.c.Now().UnixNano()) / float64(time.Second))
	p.log.Info("registry pull stored", "from", from.Format(time.DateOnly), "to", to.Format(time.DateOnly),
		"pages", res.Pages, "items", res.Items, "dossiers", len(res.Rows), "foreign", len(res.Foreign),
		"invalid", len(res.Bad), "complete", res.Complete)
	return nil
}

// report logs and counts the items a pull did not take.
func (p *Puller) report(res Result) {
	p.metrics.rejected.WithLabelValues("foreign").Add(float64(len(res.Foreign)))
	p.metrics.rejected.WithLabelValues("invalid").Add(float64(len(res.Bad)))
	for i, pr := range res.Foreign {
		if i == logItems {
			p.log.Info("registry pull: more dossiers of other agencies", "count", len(res.Foreign)-logItems)
			break
		}
		p.log.Info("registry pull: dossier of another agency, not counted", "item", pr.Line, "reason", pr.Reason)
	}
	for i, pr := range res.Bad {
		if i == logItems {
			p.log.Warn("registry pull: more invalid items", "count", len(res.Bad)-logItems)
			break
		}
		p.log.Warn("registry pull: invalid item skipped", "item", pr.Line, "code", pr.Code, "reason", pr.Reason)
	}
}

package chatsvc

import (
	"context"
	"errors"
	"io"
	"time"

	rsrt "github.com/rsocket-chat/rsgen/gen/rsrt"
	"github.com/rsocket-chat/rsgen/generated/chat"
)

// Bounds of a statistics request's period_seconds.
const (
	MinStatsPeriod = 1
	MaxStatsPeriod = 3600
)

// statsSettings is what a statistics channel reports, and how often.
type statsSettings struct {
	users, channels bool
	period          int64 // seconds
}

var defaultStatsSettings = statsSettings{users: true, channels: true, period: 1}

// parseStatsRequest validates an update; absent fields take the defaults
// ("ids" both, period 1), as the contract says.
func parseStatsRequest(r chat.ServerStatisticsRequest) (statsSettings, error) {
	set := defaultStatsSettings
	if len(r.IDs) > 0 {
		set.users, set.channels = false, false
		for _, id := range r.IDs {
			switch id {
			case "users":
				set.users = true
			case "channels":
				set.channels = true
			default:
				return set, rsrt.NewError(`statistics: unknown id %q, expected "users" or "channels"`, id)
			}
		}
	}
	if r.PeriodSeconds != nil {
		p := *r.PeriodSeconds
		if p < MinStatsPeriod || p > MaxStatsPeriod {
			return set, rsrt.NewError("statistics: period_seconds must be between %d and %d, got %d", MinStatsPeriod, MaxStatsPeriod, p)
		}
		set.period = p
	}
	return set, nil
}

// report builds the statistics message with only the requested counts.
func (s *Service) report(set statsSettings) chat.ServerStatistics {
	users, channels := s.hub.Counts()
	var r chat.ServerStatistics
	if set.users {
		r.UserCount = &users
	}
	if set.channels {
		r.ChannelCount = &channels
	}
	return r
}

// serveStatistics sends a report at once, then every period, and at once
// again after each update. Updates are read on their own goroutine so that
// they apply while the sender waits for its ticker or for demand. An
// invalid update ends the channel with an APPLICATION_ERROR saying why.
func (s *Session) serveStatistics(ctx context.Context,
	recv func() (chat.ServerStatisticsRequest, error),
	send func(chat.ServerStatistics) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	updates := make(chan statsSettings)
	failed := make(chan error, 1)
	go func() {
		for {
			req, err := recv()
			if errors.Is(err, io.EOF) {
				return // the client is done sending; reports go on
			}
			var set statsSettings
			if err == nil {
				set, err = parseStatsRequest(req)
			}
			if err != nil {
				if ctx.Err() == nil {
					failed <- err
				}
				return
			}
			select {
			case updates <- set:
			case <-ctx.Done():
				return
			}
		}
	}()

	set := defaultStatsSettings
	ticker := time.NewTicker(time.Duration(set.period) * s.svc.statsUnit)
	defer ticker.Stop()
	for {
		if err := send(s.svc.report(set)); err != nil {
			return nil // the client cancelled or went away
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-failed:
			s.logger().Debug("statistics channel ended", "err", err)
			return err
		case set = <-updates:
			ticker.Reset(time.Duration(set.period) * s.svc.statsUnit)
		case <-ticker.C:
		}
	}
}

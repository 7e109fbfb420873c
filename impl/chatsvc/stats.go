package chatsvc

import (
	"context"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/rsocket-chat/rsgen/generated/chat"
)

// statsSettings is what a statistics channel reports, and how often.
type statsSettings struct {
	users, channels bool
	period          int64 // seconds
}

var defaultStatsSettings = statsSettings{users: true, channels: true, period: 1}

// parseStatsRequest turns an update into settings; absent fields take the
// defaults ("ids" both, period 1), as the contract says. The values are
// valid already: schema/chat.yaml constrains ids to "users" and
// "channels" and period_seconds to 1..3600, and the generated decoder
// refuses an update that breaks them before it reaches the channel.
func parseStatsRequest(r chat.ServerStatisticsRequest) statsSettings {
	set := defaultStatsSettings
	if len(r.IDs) > 0 {
		set.users = slices.Contains(r.IDs, "users")
		set.channels = slices.Contains(r.IDs, "channels")
	}
	if r.PeriodSeconds != nil {
		set.period = *r.PeriodSeconds
	}
	return set
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
			if err != nil {
				if ctx.Err() == nil {
					failed <- err
				}
				return
			}
			select {
			case updates <- parseStatsRequest(req):
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

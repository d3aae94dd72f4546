package replayd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/bus"
)

// GapOptions tunes a GapFiller. The zero value is usable.
type GapOptions struct {
	// MaxReply is the largest range asked in one query; it should not
	// exceed the server's replay_max_reply (default 1000).
	MaxReply int
	// Timeout bounds one query (DefaultTimeout when 0).
	Timeout time.Duration
	// RetryAfter: after a failed query, gaps from that replay endpoint are
	// not asked for (and counted lost) for this long (default 10s), so a
	// dead host does not stall live messages on every gap.
	RetryAfter time.Duration
	// Verify checks replayed envelopes like the subscriber checks live
	// ones (signature and policy); a rejected one is dropped and logged.
	Verify func(env *bus.Envelope) (signer string, err error)
	// Topics are the topic prefixes the subscriber asked for; replayed
	// envelopes outside them are not delivered. None means everything.
	Topics []string
	// Logger gets the warnings; nil means slog.Default().
	Logger *slog.Logger
	// query replaces QueryRaw in tests.
	query func(ctx context.Context, endpoint string, req Request, timeout time.Duration) ([][]byte, error)
}

// GapStats counts what a GapFiller did.
type GapStats struct {
	Live       uint64 // live messages delivered
	Replayed   uint64 // missed messages fetched and delivered
	Duplicates uint64 // messages dropped as seq_id <= the last delivered
	Lost       uint64 // missed seq_ids that could not be fetched
	Pruned     uint64 // missed seq_ids the publisher's journal has pruned (retention)
	Resets     uint64 // times a publisher's seq_id went backwards (journal reset)
}

// source is the tracking state of one publisher (one replay endpoint).
type source struct {
	replay  string
	last    int64 // last seq_id delivered; 0 before the first
	down    bool
	retryAt time.Time
	lost    uint64 // lost during the current outage
	// recent holds the msg_id of the last ringSize seq_ids delivered,
	// at seq_id % ringSize: a message at or below last with the msg_id
	// seen at its seq_id is a duplicate; one with another msg_id (or
	// none known) means the publisher's journal was reset.
	recent [ringSize]seenSeq
	// floor is since-1 of a Backfill: messages at or below it were not
	// asked for and are dropped, not taken for a reset.
	floor int64
}

// ringSize is how many delivered seq_ids a source remembers.
const ringSize = 4096

type seenSeq struct {
	seq   int64
	msgID string
}

// deliver records that seq (msgID) was delivered.
func (src *source) deliver(seq int64, msgID string) {
	src.last = seq
	src.recent[seq%ringSize] = seenSeq{seq, msgID}
}

// isDuplicate reports whether seq (at or below last) was delivered with
// this msg_id.
func (src *source) isDuplicate(seq int64, msgID string) bool {
	d := src.recent[seq%ringSize]
	return d.seq == seq && d.msgID == msgID
}

// GapFiller makes a subscriber deliver every seq_id of each publisher
// exactly once and in order. It keeps the last seq_id per publisher (one
// replay endpoint; several PUB endpoints of one publisher share it): a
// message with seq_id last+1 is delivered, one at or below last dropped
// as a duplicate or late arrival, and on a jump it asks the replay
// endpoint for exactly [last+1, seq-1], in chunks of MaxReply, and
// delivers those before the message. If the replay endpoint fails it
// logs a warning once per outage and delivers live messages anyway.
// Messages without seq_id, or from an endpoint without a replay endpoint,
// pass through untracked. It is safe for concurrent use.
type GapFiller struct {
	opts   GapOptions
	log    *slog.Logger
	routes map[string]*source // PUB endpoint → its publisher's state

	mu    sync.Mutex
	stats GapStats
}

// NewGapFiller makes a GapFiller for routes, a map from each PUB
// endpoint to its publisher's replay endpoint.
func NewGapFiller(routes map[string]string, opts GapOptions) *GapFiller {
	if opts.MaxReply <= 0 {
		opts.MaxReply = 1000
	}
	if opts.RetryAfter <= 0 {
		opts.RetryAfter = 10 * time.Second
	}
	if opts.query == nil {
		opts.query = QueryRaw
	}
	g := &GapFiller{opts: opts, log: opts.Logger, routes: map[string]*source{}}
	if g.log == nil {
		g.log = slog.Default()
	}
	byReplay := map[string]*source{}
	for ep, rep := range routes {
		src := byReplay[rep]
		if src == nil {
			src = &source{replay: rep}
			byReplay[rep] = src
		}
		g.routes[ep] = src
	}
	return g
}

// Stats returns the counters so far.
func (g *GapFiller) Stats() GapStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}

// Filter takes one received message and returns what to deliver, in
// order: nothing (a duplicate), the message, or the missed messages
// followed by it.
func (g *GapFiller) Filter(ctx context.Context, m bus.Message) []bus.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	src := g.routes[m.Endpoint]
	if src == nil || m.Env == nil || m.Env.SeqID == 0 {
		g.stats.Live++
		return []bus.Message{m}
	}
	seq := m.Env.SeqID
	switch {
	case src.last == 0 || seq == src.last+1:
	case seq <= src.last && (src.isDuplicate(seq, m.Env.MsgID) || seq <= src.floor):
		g.stats.Duplicates++
		g.log.Debug("replay: dropped duplicate or late message", "endpoint", m.Endpoint, "seq_id", seq, "last", src.last)
		return nil
	case seq <= src.last:
		// Not a message delivered before: the publisher's journal
		// started again (restored, or made anew). Say so, and follow
		// the new numbering instead of dropping everything up to the
		// old last seq_id.
		g.stats.Resets++
		g.log.Warn("replay: seq_id went backwards: the publisher's journal was reset; following its new seq_ids",
			"endpoint", m.Endpoint, "replay_endpoint", src.replay, "last", src.last, "seq_id", seq)
		src.floor = 0
	default:
		out := g.fetch(ctx, src, m.Endpoint, seq-1)
		g.stats.Live++
		src.deliver(seq, m.Env.MsgID)
		return append(out, m)
	}
	g.stats.Live++
	src.deliver(seq, m.Env.MsgID)
	return []bus.Message{m}
}

// Backfill fetches, for every publisher, the messages from seq_id since
// up to the newest and returns them in order (publishers sorted by
// replay endpoint); later live messages continue from there. Call it
// after subscribing, so nothing falls between the two.
func (g *GapFiller) Backfill(ctx context.Context, since int64) []bus.Message {
	g.mu.Lock()
	defer g.mu.Unlock()
	eps := make([]string, 0, len(g.routes))
	for ep := range g.routes {
		eps = append(eps, ep)
	}
	sort.Slice(eps, func(i, j int) bool { return g.routes[eps[i]].replay < g.routes[eps[j]].replay })
	var out []bus.Message
	done := map[*source]bool{}
	for _, ep := range eps {
		src := g.routes[ep]
		if done[src] {
			continue
		}
		done[src] = true
		src.last = max(since-1, src.last)
		src.floor = since - 1
		first := true
		for wait := backfillRetryMin; ctx.Err() == nil; {
			msgs, got, n, err := g.chunk(ctx, src, ep, src.last+1, src.last+int64(g.opts.MaxReply))
			if g.smaller(err) || g.skipPruned(src, err, src.last+1, math.MaxInt64) {
				continue
			}
			if err != nil && !isReply(err) && ctx.Err() == nil {
				// Unreachable (serve down, restarting): retry until it
				// answers, so nothing from since on is skipped.
				g.log.Warn("replay: backfill: replay endpoint unreachable; retrying", "replay_endpoint", src.replay,
					"from_seq_id", src.last+1, "retry_in", wait.String(), "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				wait = min(2*wait, backfillRetryMax)
				continue
			}
			wait = backfillRetryMin
			out = append(out, msgs...)
			if first && since > 1 && got == 0 && errors.Is(err, ErrNoMatch) {
				g.checkReset(ctx, src, since)
			}
			first = false
			if err != nil {
				if !errors.Is(err, ErrNoMatch) {
					g.log.Warn("replay: backfill failed", "replay_endpoint", src.replay, "from_seq_id", src.last+1, "err", err)
				}
				break
			}
			if n < g.opts.MaxReply || got == 0 {
				break // the newest is reached (or the server makes no progress)
			}
		}
	}
	return out
}

// Backfill's retry backoff while a replay endpoint is unreachable.
const (
	backfillRetryMin = 200 * time.Millisecond
	backfillRetryMax = 5 * time.Second
)

// checkReset is asked when nothing is found from since on: if seq_id
// since-1 is not there either, the journal ends before since, which means
// it was reset (or since is ahead of it): say so instead of waiting
// silently for seq_ids that may never come.
func (g *GapFiller) checkReset(ctx context.Context, src *source, since int64) {
	prev := since - 1
	_, err := g.opts.query(ctx, src.replay, SeqRange(prev, prev), g.opts.Timeout)
	if errors.Is(err, ErrNoMatch) {
		g.stats.Resets++
		g.log.Warn("replay: the replay endpoint has no seq_id before --since-seq: its journal was reset, or is behind; messages print from seq_id "+fmt.Sprint(since)+" on",
			"replay_endpoint", src.replay, "missing_seq_id", prev)
	}
}

// fetch gets [src.last+1, hi] in chunks; what it cannot get is counted
// lost and logged.
func (g *GapFiller) fetch(ctx context.Context, src *source, ep string, hi int64) []bus.Message {
	var out []bus.Message
	for lo := src.last + 1; lo <= hi; {
		if ctx.Err() != nil { // interrupted: no outage to report
			g.lose(src, hi-lo+1)
			break
		}
		end := min(hi, lo+int64(g.opts.MaxReply)-1)
		if src.down && time.Now().Before(src.retryAt) {
			g.lose(src, end-lo+1)
			lo = end + 1
			continue
		}
		src.last = lo - 1
		msgs, got, _, err := g.chunk(ctx, src, ep, lo, end)
		if g.smaller(err) {
			continue
		}
		if g.skipPruned(src, err, lo, hi) {
			lo = src.last + 1
			continue
		}
		out = append(out, msgs...)
		if miss := end - lo + 1 - got; miss > 0 {
			g.lose(src, miss)
		}
		src.last = end
		switch {
		case err == nil:
			g.log.Debug("replay: filled gap", "replay_endpoint", src.replay, "from", lo, "to", end, "got", got)
			if src.down {
				g.log.Info("replay: replay endpoint answers again", "replay_endpoint", src.replay, "lost_seq_ids", src.lost)
				src.down, src.lost = false, 0
			}
		case errors.Is(err, ErrNoMatch) || isReply(err):
			g.log.Warn("replay: missed messages not available", "replay_endpoint", src.replay, "from", lo, "to", end, "err", err)
		default:
			if !src.down {
				g.log.Warn("replay: replay endpoint unreachable; carrying on with live messages, gaps are not filled until it answers",
					"replay_endpoint", src.replay, "err", err)
			}
			src.down, src.retryAt = true, time.Now().Add(g.opts.RetryAfter)
		}
		lo = end + 1
	}
	return out
}

// smaller halves the chunk size when a server refused a chunk as too
// large (its replay_max_reply is below ours); the caller then retries.
func (g *GapFiller) smaller(err error) bool {
	if !errors.Is(err, ErrTooMany) || g.opts.MaxReply <= 1 {
		return false
	}
	g.opts.MaxReply /= 2
	g.log.Info("replay: server refused a range as too large; asking for smaller ones", "max", g.opts.MaxReply)
	return true
}

// skipPruned handles a "pruned" reply to a query from lo: the pruned
// seq_ids from lo on, up to hi, are counted and logged, src.last moves
// over them, and the caller asks again for the rest. A reply naming no
// seq_id from lo on (a confused server) is left to the caller.
func (g *GapFiller) skipPruned(src *source, err error, lo, hi int64) bool {
	through, ok := PrunedThrough(err)
	if !ok || through < lo {
		return false
	}
	to := min(through, hi)
	g.stats.Pruned += uint64(to - lo + 1)
	g.log.Warn("replay: missed messages were pruned from the publisher's journal (retention)",
		"replay_endpoint", src.replay, "from", lo, "to", to)
	src.last = to
	return true
}

func isReply(err error) bool {
	var re *ReplyError
	return errors.As(err, &re)
}

// lose counts n seq_ids that will not be delivered.
func (g *GapFiller) lose(src *source, n int64) {
	g.stats.Lost += uint64(n)
	src.lost += uint64(n)
}

// chunk asks for [lo, hi] and returns the messages to deliver,
// advancing src.last over every envelope in the range that came back
// (got of them; n is the number of frames in the reply).
func (g *GapFiller) chunk(ctx context.Context, src *source, ep string, lo, hi int64) (msgs []bus.Message, got int64, n int, err error) {
	frames, err := g.opts.query(ctx, src.replay, SeqRange(lo, hi), g.opts.Timeout)
	if err != nil {
		return nil, 0, 0, err
	}
	for _, f := range frames {
		env, err := bus.ParseEnvelope(f)
		if err != nil {
			g.log.Warn("replay: bad envelope in reply", "replay_endpoint", src.replay, "err", err)
			continue
		}
		if env.SeqID <= src.last || env.SeqID > hi {
			continue // out of range or repeated: never deliver twice
		}
		src.deliver(env.SeqID, env.MsgID)
		got++
		m := bus.Message{Endpoint: ep, Topic: env.Topic, Body: f, Env: env}
		if !g.wanted(env.Topic) {
			continue
		}
		if g.opts.Verify != nil {
			if m.Signer, err = g.opts.Verify(env); err != nil {
				g.log.Warn("replay: dropped invalid replayed message", "seq_id", env.SeqID, "msg_id", env.MsgID, "err", err)
				continue
			}
		}
		g.stats.Replayed++
		msgs = append(msgs, m)
	}
	return msgs, got, len(frames), nil
}

// wanted applies the subscriber's topic prefixes.
func (g *GapFiller) wanted(topic string) bool {
	if len(g.opts.Topics) == 0 {
		return true
	}
	for _, t := range g.opts.Topics {
		if strings.HasPrefix(topic, t) {
			return true
		}
	}
	return false
}

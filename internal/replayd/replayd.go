// Package replayd is mailgw's side of fedmsg's replay protocol (docs/replay.md):
// a REP endpoint that answers queries from the journal, the REQ client,
// the GapFiller that makes "mailgw tail" deliver every seq_id exactly once
// and in order, and DNS SRV discovery of endpoints (srv_endpoints).
//
// A request is one frame, a JSON object with any of fedmsg's keys:
// seq_id (int), seq_ids (list of int), seq_id_range ([lo, hi], inclusive),
// msg_id (string), msg_ids (list of string) and time ([t0, t1], Unix
// seconds, inclusive; fractions allowed). The keys are OR-ed; the matching
// envelopes come back one frame each, canonical JSON with seq_id, in
// seq_id order and without repeats. Anything else is answered by the single
// frame "error: '<text>'": bad JSON, an unknown key (named), a bad range,
// no match, or a match over the server's bound.
//
// Bounded replies: a query matching more than max_reply envelopes is
// refused with "query matches more than N messages; ask for a smaller
// seq_id_range" rather than answered with the first N, because a fedmsg
// client cannot tell a truncated reply from a complete one; the GapFiller
// asks for chunks of at most N seq_ids, which always fit.
//
// Unlike upstream fedmsg, ranges are inclusive and work, the gap filler
// asks for exactly [last+1, cur-1] and delivers every replayed message,
// and a failing replay endpoint never stops the subscriber.
package replayd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/debian/mailgw/bus"
)

// Store is what the server needs from the journal; *journal.Journal has
// exactly these methods. Each returns canonical envelope bodies (with
// seq_id) in seq_id order, or an error matching journal.ErrTooMany when
// more than limit envelopes match.
type Store interface {
	BySeqRange(lo, hi int64, limit int) ([][]byte, error)
	BySeqIDs(ids []int64, limit int) ([][]byte, error)
	ByMsgIDs(ids []string, limit int) ([][]byte, error)
	ByTime(t0, t1 int64, limit int) ([][]byte, error)
}

// Request is one replay query. Set fields are OR-ed. Its JSON form uses
// fedmsg's key names; fields are declared in key order so encoding/json
// writes canonical JSON.
type Request struct {
	MsgID      string    `json:"msg_id,omitempty"`
	MsgIDs     []string  `json:"msg_ids,omitempty"`
	SeqID      *int64    `json:"seq_id,omitempty"`
	SeqIDRange *[2]int64 `json:"seq_id_range,omitempty"`
	SeqIDs     []int64   `json:"seq_ids,omitempty"`
	Time       *[2]int64 `json:"time,omitempty"`
}

// SeqRange returns the request for seq_ids lo..hi inclusive.
func SeqRange(lo, hi int64) Request { return Request{SeqIDRange: &[2]int64{lo, hi}} }

// Keys lists the query keys a server understands.
var Keys = []string{"seq_id", "seq_ids", "seq_id_range", "msg_id", "msg_ids", "time"}

// ParseRequest parses and checks a request frame. Its errors are the
// texts the server sends back.
func ParseRequest(frame []byte) (*Request, error) {
	dec := json.NewDecoder(bytes.NewReader(frame))
	dec.UseNumber()
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("request is not a JSON object: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("request is not a JSON object: trailing data")
	}
	if raw == nil {
		return nil, errors.New("request is not a JSON object")
	}
	// Decoding kept one copy of a repeated key; which one is not for the
	// server to guess (bus.CheckDuplicateKeys).
	if err := bus.CheckDuplicateKeys(frame); err != nil {
		return nil, fmt.Errorf("ambiguous request: %v", err)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty query: use one of %s", strings.Join(Keys, ", "))
	}
	r := &Request{}
	for key, v := range raw {
		var err error
		switch key {
		case "seq_id":
			var n int64
			n, err = intOf(v)
			r.SeqID = &n
		case "seq_ids":
			r.SeqIDs, err = listOf(v, intOf)
		case "seq_id_range":
			var p [2]int64
			p, err = pairOf(v, intOf)
			r.SeqIDRange = &p
		case "msg_id":
			r.MsgID, err = stringOf(v)
			if err == nil && r.MsgID == "" {
				err = errors.New("empty string")
			}
		case "msg_ids":
			r.MsgIDs, err = listOf(v, stringOf)
		case "time":
			var p [2]int64
			if p, err = timePair(v); err == nil {
				r.Time = &p
			}
		default:
			return nil, fmt.Errorf("unknown query key %q (known: %s)", key, strings.Join(Keys, ", "))
		}
		if err != nil {
			return nil, fmt.Errorf("bad %s: %v", key, err)
		}
	}
	return r, nil
}

func decodeNumber(v json.RawMessage) (json.Number, error) {
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return "", err
	}
	n, ok := x.(json.Number)
	if !ok {
		return "", fmt.Errorf("%s is not a number", v)
	}
	return n, nil
}

func intOf(v json.RawMessage) (int64, error) {
	n, err := decodeNumber(v)
	if err != nil {
		return 0, err
	}
	i, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%s is not an integer", n)
	}
	return i, nil
}

func stringOf(v json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("%s is not a string", v)
	}
	return s, nil
}

func listOf[T any](v json.RawMessage, elem func(json.RawMessage) (T, error)) ([]T, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(v, &items); err != nil || items == nil {
		return nil, fmt.Errorf("%s is not a list", v)
	}
	out := make([]T, len(items))
	for i, it := range items {
		x, err := elem(it)
		if err != nil {
			return nil, err
		}
		out[i] = x
	}
	return out, nil
}

func pairOf(v json.RawMessage, elem func(json.RawMessage) (int64, error)) ([2]int64, error) {
	l, err := listOf(v, elem)
	if err != nil {
		return [2]int64{}, err
	}
	if len(l) != 2 {
		return [2]int64{}, fmt.Errorf("want [lo, hi], got %d items", len(l))
	}
	if l[0] > l[1] {
		return [2]int64{}, fmt.Errorf("[%d, %d]: lo > hi", l[0], l[1])
	}
	return [2]int64{l[0], l[1]}, nil
}

// timePair reads [t0, t1] in Unix seconds; fractions (Python's
// time.time()) round inwards (t0 up, t1 down), so the range stays
// inclusive of exactly the whole seconds it covers.
func timePair(v json.RawMessage) ([2]int64, error) {
	l, err := listOf(v, func(x json.RawMessage) (float64, error) {
		n, err := decodeNumber(x)
		if err != nil {
			return 0, err
		}
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || math.Abs(f) > 1e15 {
			return 0, fmt.Errorf("%s is not a time", n)
		}
		return f, nil
	})
	if err != nil {
		return [2]int64{}, err
	}
	if len(l) != 2 {
		return [2]int64{}, fmt.Errorf("want [t0, t1], got %d items", len(l))
	}
	if l[0] > l[1] {
		return [2]int64{}, fmt.Errorf("[%v, %v]: t0 > t1", l[0], l[1])
	}
	return [2]int64{int64(math.Ceil(l[0])), int64(math.Floor(l[1]))}, nil
}

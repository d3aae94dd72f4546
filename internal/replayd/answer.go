package replayd

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/debian/mailgw/internal/journal"
)

// noMatchText is the error text for a query that matches nothing; clients
// recognise it (and fedmsg's "There was no match …") as ErrNoMatch.
const noMatchText = "no match for the given query"

// ErrNoMatch is matched (errors.Is) by the error of a query that the
// server answered with "no match".
var ErrNoMatch = errors.New("replay: no match for the given query")

// ErrTooMany is matched by the error of a query the server refused as
// matching more than its max_reply envelopes.
var ErrTooMany = errors.New("replay: query matches too many messages")

// ErrPruned is matched by the error of a query for envelopes the
// publisher's journal has pruned (retention); PrunedThrough tells up to
// which seq_id.
var ErrPruned = errors.New("replay: envelopes pruned from the journal")

// prunedPrefix starts the text of a "pruned" error reply; the rest is
// "seq_ids up to N are pruned …", which PrunedThrough reads.
const prunedPrefix = "pruned: "

// pruned is the error reply for a query that asks for pruned envelopes.
func pruned(pe *journal.PrunedError) error {
	return &ReplyError{Text: fmt.Sprintf("%sseq_ids up to %d are pruned from this journal (retention); the oldest kept is %d",
		prunedPrefix, pe.Through, pe.Through+1)}
}

// PrunedThrough returns N when err is a "pruned" reply saying every
// seq_id up to N is pruned.
func PrunedThrough(err error) (int64, bool) {
	var re *ReplyError
	if !errors.As(err, &re) || !strings.HasPrefix(re.Text, prunedPrefix) {
		return 0, false
	}
	var n int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(re.Text, prunedPrefix), "seq_ids up to %d ", &n); err != nil || n < 1 {
		return 0, false
	}
	return n, true
}

// ReplyError is an "error: '<text>'" reply from a replay endpoint.
type ReplyError struct {
	Text string
}

func (e *ReplyError) Error() string { return "replay endpoint: " + e.Text }

// Is makes ErrNoMatch, ErrTooMany and ErrPruned match the replies that
// say so.
func (e *ReplyError) Is(target error) bool {
	t := strings.ToLower(e.Text)
	switch target {
	case ErrPruned:
		return strings.HasPrefix(e.Text, prunedPrefix)
	case ErrNoMatch:
		return strings.Contains(t, "no match")
	case ErrTooMany:
		return strings.Contains(t, "more than")
	}
	return false
}

// tooMany is the error for a query over the bound; the text is part of
// the protocol documented in the package comment.
func tooMany(max int) error {
	return &ReplyError{Text: fmt.Sprintf("query matches more than %d messages; ask for a smaller seq_id_range", max)}
}

// Answer evaluates req against st: the envelopes matching any of its keys,
// in seq_id order and without repeats. More than max matches is an error
// matching ErrTooMany, none one matching ErrNoMatch, a query reaching
// into pruned envelopes one matching ErrPruned; all are *ReplyError
// so that their Text is what the server sends.
func Answer(st Store, req *Request, max int) ([][]byte, error) {
	var parts [][][]byte
	add := func(bodies [][]byte, err error) error {
		if err != nil {
			var pe *journal.PrunedError
			switch {
			case errors.Is(err, journal.ErrTooMany):
				return tooMany(max)
			case errors.As(err, &pe):
				return pruned(pe)
			}
			return err
		}
		if len(bodies) > 0 {
			parts = append(parts, bodies)
		}
		return nil
	}
	var ids []int64
	if req.SeqID != nil {
		ids = append(ids, *req.SeqID)
	}
	ids = append(ids, req.SeqIDs...)
	if len(ids) > 0 {
		if err := add(st.BySeqIDs(ids, max)); err != nil {
			return nil, err
		}
	}
	if r := req.SeqIDRange; r != nil {
		if err := add(st.BySeqRange(r[0], r[1], max)); err != nil {
			return nil, err
		}
	}
	var mids []string
	if req.MsgID != "" {
		mids = append(mids, req.MsgID)
	}
	mids = append(mids, req.MsgIDs...)
	if len(mids) > 0 {
		if err := add(st.ByMsgIDs(mids, max)); err != nil {
			return nil, err
		}
	}
	if t := req.Time; t != nil {
		if err := add(st.ByTime(t[0], t[1], max)); err != nil {
			return nil, err
		}
	}
	switch len(parts) {
	case 0:
		return nil, &ReplyError{Text: noMatchText}
	case 1:
		return parts[0], nil // each Store answer is ordered and unique
	}
	return merge(parts, max)
}

// merge unites several seq_id-ordered answers.
func merge(parts [][][]byte, max int) ([][]byte, error) {
	type row struct {
		seq  int64
		body []byte
	}
	seen := map[int64]bool{}
	var rows []row
	for _, p := range parts {
		for _, b := range p {
			seq, err := seqOf(b)
			if err != nil {
				return nil, err
			}
			if seen[seq] {
				continue
			}
			seen[seq] = true
			rows = append(rows, row{seq, b})
		}
	}
	if len(rows) > max {
		return nil, tooMany(max)
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	out := make([][]byte, len(rows))
	for i, r := range rows {
		out[i] = r.body
	}
	return out, nil
}

// seqOf reads the seq_id of a stored body.
func seqOf(body []byte) (int64, error) {
	var v struct {
		SeqID *int64 `json:"seq_id"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.SeqID == nil {
		return 0, fmt.Errorf("stored envelope without seq_id: %v", err)
	}
	return *v.SeqID, nil
}

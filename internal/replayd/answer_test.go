package replayd

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
)

// seqs returns the seq_ids of reply bodies.
func seqs(t *testing.T, bodies [][]byte) []int64 {
	t.Helper()
	out := make([]int64, len(bodies))
	for i, b := range bodies {
		s, err := seqOf(b)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

func TestAnswerQueryKinds(t *testing.T) {
	st := newFakeStore(20)
	for _, tc := range []struct {
		req  string
		want []int64
	}{
		{`{"seq_id":3}`, []int64{3}},
		{`{"seq_ids":[9,2,9,5]}`, []int64{2, 5, 9}},
		{`{"seq_id_range":[4,7]}`, []int64{4, 5, 6, 7}},
		{`{"seq_id_range":[19,25]}`, []int64{19, 20}},
		{`{"msg_id":"2026-m11"}`, []int64{11}},
		{`{"msg_ids":["2026-m12","nope","2026-m1"]}`, []int64{1, 12}},
		{`{"time":[1010,1012]}`, []int64{10, 11, 12}},
		{`{"time":[1009.5,1011.9]}`, []int64{10, 11}},
		// OR-ed, ordered, without repeats
		{`{"seq_id":8,"seq_id_range":[2,4],"msg_id":"2026-m3","time":[1001,1001]}`, []int64{1, 2, 3, 4, 8}},
	} {
		req, err := ParseRequest([]byte(tc.req))
		if err != nil {
			t.Fatalf("%s: %v", tc.req, err)
		}
		got, err := Answer(st, req, 10)
		if err != nil {
			t.Fatalf("%s: %v", tc.req, err)
		}
		if g := seqs(t, got); !slices.Equal(g, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.req, g, tc.want)
		}
	}
}

func TestAnswerErrors(t *testing.T) {
	st := newFakeStore(20)
	for _, tc := range []struct {
		req, want string
		is        error
	}{
		{`{"seq_id":99}`, "no match", ErrNoMatch},
		{`{"seq_ids":[]}`, "no match", ErrNoMatch},
		{`{"seq_id_range":[1,20]}`, "query matches more than 10 messages; ask for a smaller seq_id_range", ErrTooMany},
		{`{"seq_id_range":[1,6],"seq_ids":[7,8,9,10,11]}`, "more than 10", ErrTooMany},
	} {
		req, err := ParseRequest([]byte(tc.req))
		if err != nil {
			t.Fatalf("%s: %v", tc.req, err)
		}
		_, err = Answer(st, req, 10)
		var re *ReplyError
		if !errors.As(err, &re) || !strings.Contains(re.Text, tc.want) || !errors.Is(err, tc.is) {
			t.Errorf("%s: got %v, want a ReplyError with %q", tc.req, err, tc.want)
		}
	}
}

func TestParseRequestRejects(t *testing.T) {
	for _, tc := range []struct{ req, want string }{
		{``, "not a JSON object"},
		{`[1,2]`, "not a JSON object"},
		{`null`, "not a JSON object"},
		{`{"seq_id":1} x`, "trailing data"},
		{`{}`, "empty query"},
		{`{"seq_id":1,"colour":"red"}`, `unknown query key "colour"`},
		{`{"seq_id":1,"seq_id":2}`, `ambiguous request: duplicate key "seq_id"`},
		{`{"time":[1,2],"msg_ids":["a"],"time":[3,4]}`, `ambiguous request: duplicate key "time"`},
		{`{"seq_id":"1"}`, "bad seq_id"},
		{`{"seq_id":1.5}`, "bad seq_id"},
		{`{"seq_ids":3}`, "bad seq_ids"},
		{`{"seq_ids":[1,"x"]}`, "bad seq_ids"},
		{`{"seq_id_range":[5,3]}`, "lo > hi"},
		{`{"seq_id_range":[1]}`, "want [lo, hi]"},
		{`{"seq_id_range":[1,2,3]}`, "want [lo, hi]"},
		{`{"msg_id":7}`, "bad msg_id"},
		{`{"msg_id":""}`, "bad msg_id"},
		{`{"msg_ids":"2026-x"}`, "bad msg_ids"},
		{`{"time":[10,5]}`, "t0 > t1"},
		{`{"time":["a","b"]}`, "bad time"},
	} {
		_, err := ParseRequest([]byte(tc.req))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error with %q", tc.req, err, tc.want)
		}
	}
}

func TestRequestJSONIsCanonical(t *testing.T) {
	seq := int64(4)
	r := Request{MsgID: "a", MsgIDs: []string{"b"}, SeqID: &seq, SeqIDRange: &[2]int64{1, 2}, SeqIDs: []int64{3}, Time: &[2]int64{5, 6}}
	b, err := jsonMarshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"msg_id":"a","msg_ids":["b"],"seq_id":4,"seq_id_range":[1,2],"seq_ids":[3],"time":[5,6]}`
	if string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	back, err := ParseRequest(b)
	if err != nil || *back.SeqID != 4 || back.SeqIDRange[1] != 2 || back.Time[0] != 5 {
		t.Fatalf("round trip: %+v, %v", back, err)
	}
}

func jsonMarshal(r Request) ([]byte, error) { return json.Marshal(r) }

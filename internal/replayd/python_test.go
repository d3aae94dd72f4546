//go:build e2e

package replayd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

type pyReply struct {
	Frames      []string `json:"frames"`
	EnvelopesOK bool     `json:"envelopes_ok"`
}

// TestPythonREQClient: a real libzmq REQ client sends every query kind and
// garbage over one connection; replies match the journal byte for byte,
// bad requests get one error frame, and the endpoint keeps serving.
func TestPythonREQClient(t *testing.T) {
	j := newJournal(t, 30)
	s := startServer(t, j, 10)
	type step struct {
		frames []string
		want   func() [][]byte // expected envelope frames, from the journal
		errSub string          // or the expected error text
	}
	q := func(f func() ([][]byte, error)) func() [][]byte {
		return func() [][]byte {
			b, err := f()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	steps := []step{
		{frames: []string{`{"seq_id":7}`}, want: q(func() ([][]byte, error) { return j.BySeqIDs([]int64{7}, 10) })},
		{frames: []string{`{"colour":1}`}, errSub: `unknown query key "colour"`},
		{frames: []string{`{"seq_ids":[3,1,2]}`}, want: q(func() ([][]byte, error) { return j.BySeqIDs([]int64{1, 2, 3}, 10) })},
		{frames: []string{`not json`}, errSub: "not a JSON object"},
		{frames: []string{`{"seq_id_range":[21,30]}`}, want: q(func() ([][]byte, error) { return j.BySeqRange(21, 30, 10) })},
		{frames: []string{`{"seq_id_range":[1,30]}`}, errSub: "query matches more than 10 messages; ask for a smaller seq_id_range"},
		{frames: []string{`{"seq_id_range":[9,2]}`}, errSub: "lo > hi"},
		{frames: []string{`{"msg_id":"2026-m13"}`}, want: q(func() ([][]byte, error) { return j.ByMsgIDs([]string{"2026-m13"}, 10) })},
		{frames: []string{`{"seq_id":1}`, `{"seq_id":2}`}, errSub: "one frame of JSON, got 2 frames"},
		{frames: []string{`{"msg_ids":["2026-m2","2026-m4"]}`}, want: q(func() ([][]byte, error) { return j.ByMsgIDs([]string{"2026-m2", "2026-m4"}, 10) })},
		{frames: []string{`{"seq_id":999}`}, errSub: "no match"},
		{frames: []string{`{"time":[1005,1008]}`}, want: q(func() ([][]byte, error) { return j.ByTime(1005, 1008, 10) })},
		{frames: []string{`{}`}, errSub: "empty query"},
		{frames: []string{`{"seq_id":30,"msg_id":"2026-m29"}`}, want: q(func() ([][]byte, error) { return j.BySeqRange(29, 30, 10) })},
	}
	var stdin bytes.Buffer
	for _, st := range steps {
		b, _ := json.Marshal(st.frames)
		stdin.Write(append(b, '\n'))
	}
	cmd := exec.Command("/usr/bin/python3", "../../test/python/replay_req.py", s.Addr())
	cmd.Stdin = &stdin
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("replay_req.py: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(steps) {
		t.Fatalf("got %d replies for %d requests:\n%s\n%s", len(lines), len(steps), out, stderr.String())
	}
	for i, st := range steps {
		var r pyReply
		if err := json.Unmarshal([]byte(lines[i]), &r); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("request %d %s", i, st.frames)
		if st.errSub != "" {
			if len(r.Frames) != 1 || !strings.HasPrefix(r.Frames[0], "error: '") || !strings.Contains(r.Frames[0], st.errSub) {
				t.Errorf("%s: got %q, want one error frame with %q", name, r.Frames, st.errSub)
			}
			continue
		}
		want := st.want()
		if len(want) == 0 || len(r.Frames) != len(want) || !r.EnvelopesOK {
			t.Errorf("%s: got %d frames (canonical %v), want %d", name, len(r.Frames), r.EnvelopesOK, len(want))
			continue
		}
		for k := range want {
			if r.Frames[k] != string(want[k]) {
				t.Errorf("%s: frame %d differs from the journal:\n got %s\nwant %s", name, k, r.Frames[k], want[k])
			}
		}
	}
	if got := s.Requests(); got != uint64(len(steps)) {
		t.Errorf("server counted %d requests, want %d", got, len(steps))
	}
}

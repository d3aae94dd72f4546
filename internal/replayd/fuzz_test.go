package replayd

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzRequest: any request frame(s) get a reply — envelopes or exactly one
// error frame — and never a panic; the REQ envelope is echoed.
func FuzzRequest(f *testing.F) {
	for _, s := range []string{
		`{"seq_id":3}`, `{"seq_ids":[1,2,2]}`, `{"seq_id_range":[2,5]}`, `{"msg_id":"2026-m1"}`,
		`{"msg_ids":["2026-m4"]}`, `{"time":[1001.5,1003]}`, `{"seq_id_range":[5,2]}`, `{"x":1}`,
		`{}`, `[]`, `nul`, `{"seq_id":1e400}`, `{"time":[-1e300,1e300]}`, "\xff\xfe",
	} {
		f.Add([]byte(s), false)
	}
	f.Add([]byte(`{"seq_id":1}`), true)
	s := &Server{store: newFakeStore(8), maxReply: 5, log: quiet}
	f.Fuzz(func(t *testing.T, body []byte, twoFrames bool) {
		req := [][]byte{{}, body}
		if twoFrames {
			req = append(req, body)
		}
		reply := s.handle("fuzz", req)
		if len(reply) < 2 || len(reply[0]) != 0 {
			t.Fatalf("reply %q lacks the envelope or a frame", reply)
		}
		out := reply[1:]
		if bytes.HasPrefix(out[0], []byte("error: '")) {
			if len(out) != 1 || !strings.HasSuffix(string(out[0]), "'") {
				t.Fatalf("error reply %q", out)
			}
			return
		}
		if twoFrames || len(out) > 5 {
			t.Fatalf("answered %d frames for %q", len(out), body)
		}
		if _, err := ParseRequest(body); err != nil {
			t.Fatalf("answered a request ParseRequest refuses: %v", err)
		}
	})
}

package replayd

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestQueryClient(t *testing.T) {
	s := startServer(t, newFakeStore(50), 20)
	ctx := context.Background()
	envs, err := query(ctx, s.Addr(), SeqRange(10, 14), time.Second*10)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	for _, e := range envs {
		got = append(got, e.SeqID)
	}
	if !slices.Equal(got, []int64{10, 11, 12, 13, 14}) || envs[0].MsgID != "2026-m10" {
		t.Fatalf("got seq_ids %v", got)
	}
	_, err = query(ctx, s.Addr(), SeqRange(1, 50), 0)
	if !errors.Is(err, ErrTooMany) || !strings.Contains(err.Error(), "more than 20") {
		t.Fatalf("range over the bound: %v", err)
	}
	_, err = query(ctx, s.Addr(), SeqRange(51, 60), 0)
	if !errors.Is(err, ErrNoMatch) {
		t.Fatalf("range past the end: %v", err)
	}
	reply, err := Exchange(ctx, s.Addr(), [][]byte{[]byte("a"), {}, []byte("b")}, 0)
	if err != nil || len(reply) != 1 || !strings.HasPrefix(string(reply[0]), "error: '") {
		t.Fatalf("garbage frames: %q, %v", reply, err)
	}
}

// TestServerSurvivesBadPeers: a non-ZMTP peer, a peer announcing a huge
// frame and one that leaves before its reply do not stop the endpoint.
func TestServerSurvivesBadPeers(t *testing.T) {
	s := startServer(t, newFakeStore(5), 10)
	_, addr, _ := zmtp.SplitEndpoint(s.Addr())

	junk, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	junk.Write([]byte("GET / HTTP/1.0\r\n\r\n" + strings.Repeat("x", 100)))
	io.Copy(io.Discard, junk) // the server hangs up
	junk.Close()

	huge, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(huge)
	if _, err := zmtp.Handshake(huge, r, zmtp.Req, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	hdr := binary.BigEndian.AppendUint64([]byte{zmtp.FlagLong}, 1<<62)
	huge.Write(hdr)
	if _, err := io.Copy(io.Discard, r); err != nil {
		t.Fatalf("reading the hang-up: %v", err)
	}
	huge.Close()

	gone, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zmtp.Handshake(gone, bufio.NewReader(gone), zmtp.Req, false, time.Minute); err != nil {
		t.Fatal(err)
	}
	gone.Write(zmtp.EncodeMessage([]byte{}, []byte(`{"seq_id_range":[1,5]}`)))
	gone.Close()

	envs, err := query(context.Background(), s.Addr(), Request{MsgIDs: []string{"2026-m2"}}, 0)
	if err != nil || len(envs) != 1 || envs[0].SeqID != 2 {
		t.Fatalf("after bad peers: %v, %v", envs, err)
	}
}

// TestQueryTimeout: a peer that accepts but never answers costs the
// client its timeout, not a hang; a closed port fails at once.
func TestQueryTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, err = query(context.Background(), "tcp://"+ln.Addr().String(), SeqRange(1, 2), 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("silent peer: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := query(context.Background(), "tcp://"+addr, SeqRange(1, 2), 0); err == nil || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("closed port: %v", err)
	}
}

func TestServerStoreFailure(t *testing.T) {
	st := newFakeStore(3)
	st.fail = errors.New("disk on fire")
	s, err := NewServer(st, "tcp://127.0.0.1:0", 10, quiet)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(context.Background())
	defer s.Close()
	_, err = query(context.Background(), s.Addr(), SeqRange(1, 2), 0)
	var re *ReplyError
	if !errors.As(err, &re) || !strings.Contains(re.Text, "internal error") || strings.Contains(re.Text, "fire") {
		t.Fatalf("got %v", err)
	}
	if s.Errors() != 1 {
		t.Fatalf("errors counted: %d", s.Errors())
	}
}

func TestNewServerErrors(t *testing.T) {
	if _, err := NewServer(newFakeStore(1), "tcp://127.0.0.1:0", 0, quiet); err == nil {
		t.Error("max reply 0 accepted")
	}
	if _, err := NewServer(newFakeStore(1), "udp://x:1", 5, quiet); err == nil {
		t.Error("udp endpoint accepted")
	}
	s := startServer(t, newFakeStore(1), 5)
	if _, err := NewServer(newFakeStore(1), s.Addr(), 5, quiet); err == nil {
		t.Error("port in use accepted")
	}
}

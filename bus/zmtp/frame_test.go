package zmtp

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
)

// reader wraps raw bytes for ReadMessage.
func reader(raw []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(raw)) }

// allocated returns how many bytes the heap handed out while f ran.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestFrameRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte("é"), 300) // over 255 bytes: long header
	wire := EncodeMessage([]byte("org.debian.dev.a"), []byte(`{"x":1}`))
	wire = AppendMessage(wire, []byte("t"), long)
	wire = AppendCommand(wire, CmdPing, []byte{0, 10, 'c'})
	wire = AppendMessage(wire) // one empty frame
	wire = AppendMessage(wire, nil, []byte("a"), nil)
	r := reader(wire)
	for _, want := range [][][]byte{{[]byte("org.debian.dev.a"), []byte(`{"x":1}`)}, {[]byte("t"), long}} {
		frames, cmd, err := ReadMessage(r, 1<<20)
		if err != nil || cmd || len(frames) != 2 || !bytes.Equal(frames[0], want[0]) || !bytes.Equal(frames[1], want[1]) {
			t.Fatalf("got %q cmd=%v err=%v", frames, cmd, err)
		}
	}
	frames, cmd, err := ReadMessage(r, 1<<20)
	if err != nil || !cmd || len(frames) != 1 {
		t.Fatalf("command: %q %v %v", frames, cmd, err)
	}
	if name, data, ok := ParseCommand(frames[0]); !ok || name != CmdPing || string(data) != "\x00\x0ac" {
		t.Fatalf("ParseCommand: %q %q %v", name, data, ok)
	}
	if frames, _, err := ReadMessage(r, 1<<20); err != nil || len(frames) != 1 || len(frames[0]) != 0 {
		t.Fatalf("empty message: %q %v", frames, err)
	}
	if frames, _, err := ReadMessage(r, 1<<20); err != nil || len(frames) != 3 || string(frames[1]) != "a" {
		t.Fatalf("three frames: %q %v", frames, err)
	}
	if _, _, err := ReadMessage(r, 1<<20); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	if _, _, ok := ParseCommand([]byte{5, 'a'}); ok {
		t.Fatal("short command accepted")
	}
	if _, _, ok := ParseCommand(nil); ok {
		t.Fatal("empty command accepted")
	}
}

func TestReadMessageBounds(t *testing.T) {
	long := func(flags byte, size uint64, body ...byte) []byte {
		return append(binary.BigEndian.AppendUint64([]byte{flags | FlagLong}, size), body...)
	}
	cases := []struct {
		name string
		raw  []byte
		max  int
		want error
	}{
		{"size 0x7fff…", long(0, 0x7fffffffffffffff), 64 << 20, ErrTooBig},
		{"size 2^64-1", long(0, ^uint64(0)), 64 << 20, ErrTooBig},
		{"64 GiB", long(0, 0x10_0000_0000), 64 << 20, ErrTooBig},
		{"huge command", long(FlagCommand, 0x7fffffffffffffff), 64 << 20, ErrTooBig},
		{"second frame over", append(AppendFrame(nil, FlagMore, make([]byte, 60)), long(0, 50)...), 100, ErrTooBig},
		{"just over", EncodeMessage(make([]byte, 101)), 100, ErrTooBig},
		{"negative max", EncodeMessage(nil), -1, ErrTooBig},
		{"announced, not sent", long(0, 60<<20, 1, 2, 3), 64 << 20, io.ErrUnexpectedEOF},
		{"header cut", []byte{FlagLong, 0, 0}, 100, io.ErrUnexpectedEOF},
		{"short size missing", []byte{FlagMore}, 100, io.ErrUnexpectedEOF},
		{"more, then nothing", AppendFrame(nil, FlagMore, []byte("a")), 100, io.ErrUnexpectedEOF},
		{"command inside a message", AppendCommand(AppendFrame(nil, FlagMore, []byte("a")), "PING", nil), 100, ErrProtocol},
		{"endless empty frames", bytes.Repeat([]byte{FlagMore, 0}, MaxFrames+1), 100, ErrTooBig},
	}
	for _, c := range cases {
		var err error
		n := allocated(func() { _, _, err = ReadMessage(reader(c.raw), c.max) })
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
		// Input, bufio buffer, frame list: never the announced size.
		if limit := uint64(64*len(c.raw) + 1<<20); n > limit {
			t.Errorf("%s: allocated %d bytes for %d bytes of input", c.name, n, len(c.raw))
		}
	}
	// Exactly at the bound is accepted, large frames arrive whole.
	big := bytes.Repeat([]byte("0123456789"), 30000)
	frames, _, err := ReadMessage(reader(EncodeMessage([]byte("t"), big)), len(big)+1)
	if err != nil || !bytes.Equal(frames[1], big) || cap(frames[1]) != len(big) {
		t.Fatalf("message at the bound: %v", err)
	}
}

func TestPong(t *testing.T) {
	p, ok := Pong([]byte{0, 10, 'c', 't', 'x'})
	frames, cmd, err := ReadMessage(reader(p), 100)
	if !ok || err != nil || !cmd {
		t.Fatalf("pong: %v %v %v", ok, cmd, err)
	}
	if name, data, _ := ParseCommand(frames[0]); name != CmdPong || string(data) != "ctx" {
		t.Fatalf("got %q %q", name, data)
	}
	if _, ok := Pong([]byte{1}); ok {
		t.Fatal("PING without TTL answered")
	}
	p, _ = Pong(append([]byte{0, 1}, bytes.Repeat([]byte("x"), 40)...))
	if len(p) != 2+1+4+16 {
		t.Fatalf("context not cut to 16 bytes: %d", len(p))
	}
}

func TestAppendFrameClearsLong(t *testing.T) {
	if b := AppendFrame(nil, FlagLong|FlagMore, []byte("a")); b[0] != FlagMore || b[1] != 1 {
		t.Fatalf("short frame header %x", b[:2])
	}
}

// TestBeginEndFrame: a frame filled in place between BeginFrame and
// EndFrame is byte for byte AppendFrame's, short and long, after other
// bytes and with flags.
func TestBeginEndFrame(t *testing.T) {
	for _, n := range []int{0, 1, 255, 256, 4096} {
		body := bytes.Repeat([]byte{'b'}, n)
		prefix := AppendFrame(nil, FlagMore, []byte("topic"))
		got, at := BeginFrame(bytes.Clone(prefix), 0)
		got = EndFrame(append(got, body...), at)
		if want := AppendFrame(bytes.Clone(prefix), 0, body); !bytes.Equal(got, want) {
			t.Errorf("%d-byte body: got %x, want %x", n, got[:min(len(got), 24)], want[:min(len(want), 24)])
		}
		got, at = BeginFrame(nil, FlagMore)
		if got = EndFrame(append(got, body...), at); !bytes.Equal(got, AppendFrame(nil, FlagMore, body)) {
			t.Errorf("%d-byte body with FlagMore differs", n)
		}
	}
}

func BenchmarkReadMessage(b *testing.B) {
	wire := EncodeMessage([]byte("org.debian.dev.dak.package.upload"), bytes.Repeat([]byte("x"), 4096))
	b.SetBytes(int64(len(wire)))
	br := bufio.NewReader(nil)
	rd := bytes.NewReader(nil)
	for b.Loop() {
		rd.Reset(wire)
		br.Reset(rd)
		if _, _, err := ReadMessage(br, 1<<20); err != nil {
			b.Fatal(err)
		}
	}
}

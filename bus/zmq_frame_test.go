package bus

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	long := bytes.Repeat([]byte("é"), 300) // over 255 bytes: long frame header
	var wire []byte
	wire = append(wire, encodeMessage("org.debian.dev.a", []byte(`{"x":1}`))...)
	wire = append(wire, encodeMessage("t", long)...)
	wire = append(wire, encodeCommand("PING", []byte{0, 10, 'c'})...)
	fr := frameReader{r: bufio.NewReader(bytes.NewReader(wire)), max: 1 << 20}
	for _, want := range [][][]byte{{[]byte("org.debian.dev.a"), []byte(`{"x":1}`)}, {[]byte("t"), long}} {
		frames, cmd, err := fr.readMessage()
		if err != nil || cmd || len(frames) != 2 || !bytes.Equal(frames[0], want[0]) || !bytes.Equal(frames[1], want[1]) {
			t.Fatalf("got %q cmd=%v err=%v", frames, cmd, err)
		}
	}
	frames, cmd, err := fr.readMessage()
	if err != nil || !cmd {
		t.Fatalf("command: %q %v %v", frames, cmd, err)
	}
	if name, data, ok := parseCommand(frames[0]); !ok || name != "PING" || string(data) != "\x00\x0ac" {
		t.Fatalf("parseCommand: %q %q %v", name, data, ok)
	}
	if _, _, err := fr.readMessage(); err != io.EOF {
		t.Fatalf("at end: %v", err)
	}
	small := frameReader{r: bufio.NewReader(bytes.NewReader(encodeMessage("t", long))), max: 100}
	if _, _, err := small.readMessage(); !errors.Is(err, errTooBig) {
		t.Fatalf("over the limit: %v", err)
	}
	if _, _, ok := parseCommand([]byte{5, 'a'}); ok {
		t.Fatal("short command accepted")
	}
}

func TestSplitEndpoint(t *testing.T) {
	for ep, want := range map[string]string{
		"tcp://127.0.0.1:9940": "tcp 127.0.0.1:9940",
		"tcp://*:9940":         "tcp :9940",
		"tcp://[::1]:1":        "tcp [::1]:1",
		"ipc:///run/x.sock":    "unix /run/x.sock",
	} {
		n, a, err := splitEndpoint(ep)
		if err != nil || n+" "+a != want {
			t.Errorf("%s: %s %s %v, want %s", ep, n, a, err, want)
		}
	}
	for _, ep := range []string{"tcp://nohost", "udp://x:1", "", "inproc://x"} {
		if _, _, err := splitEndpoint(ep); err == nil {
			t.Errorf("%q accepted", ep)
		}
	}
}

// FuzzFrameReader feeds arbitrary bytes to the frame reader: it must
// never panic nor return more than its limit, and a message it encodes
// must read back unchanged.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 'a', 0x00, 0x02, '{', '}'}, "t", []byte("{}"))
	f.Add([]byte{0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "", []byte{})
	f.Add([]byte{0x04, 0x05, 0x04, 'P', 'I', 'N', 'G'}, "org.debian.dev.x", bytes.Repeat([]byte("b"), 300))
	f.Add([]byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00}, "é", []byte("\x00"))
	f.Fuzz(func(t *testing.T, raw []byte, topic string, body []byte) {
		fr := frameReader{r: bufio.NewReader(bytes.NewReader(raw)), max: 4096}
		for {
			frames, _, err := fr.readMessage()
			if err != nil {
				break
			}
			n := 0
			for _, fb := range frames {
				n += len(fb)
			}
			if n > 4096 {
				t.Fatalf("read %d bytes over a 4096 limit", n)
			}
		}
		fr = frameReader{r: bufio.NewReader(bytes.NewReader(encodeMessage(topic, body))), max: 1 << 20}
		frames, cmd, err := fr.readMessage()
		if err != nil || cmd || len(frames) != 2 || string(frames[0]) != topic || !bytes.Equal(frames[1], body) {
			t.Fatalf("round trip: %q %v %v", frames, cmd, err)
		}
	})
}

package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// FuzzReadMessage feeds arbitrary bytes to ReadMessage: it must never
// panic, never return more than its bound nor more than MaxFrames
// frames, never allocate in proportion to an announced size, and a
// message it encodes must read back unchanged.
func FuzzReadMessage(f *testing.F) {
	f.Add([]byte{0x01, 0x01, 'a', 0x00, 0x02, '{', '}'}, "t", []byte("{}"))
	f.Add(binary.BigEndian.AppendUint64([]byte{0x02}, ^uint64(0)), "", []byte{})
	f.Add(binary.BigEndian.AppendUint64([]byte{0x06}, 0x7fffffffffffffff), "x", []byte{})
	f.Add(binary.BigEndian.AppendUint64([]byte{0x02}, 0x10_0000_0000), "x", []byte{})
	f.Add([]byte{0x04, 0x05, 0x04, 'P', 'I', 'N', 'G'}, "org.debian.dev.x", bytes.Repeat([]byte("b"), 300))
	f.Add([]byte{0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00}, "é", []byte("\x00"))
	f.Add([]byte{0x01, 0x00, 0x01, 0x00, 0x04, 0x00}, "", []byte("\xff"))
	f.Add(bytes.Repeat([]byte{0x01, 0x00}, 200), "a", []byte(nil))
	f.Fuzz(func(t *testing.T, raw []byte, topic string, body []byte) {
		const bound = 4096
		r := reader(raw)
		n := allocated(func() {
			for {
				frames, cmd, err := ReadMessage(r, bound)
				if err != nil {
					break
				}
				total := 0
				for _, fb := range frames {
					total += len(fb)
				}
				if total > bound || len(frames) > MaxFrames || len(frames) == 0 || (cmd && len(frames) != 1) {
					t.Fatalf("read %d bytes in %d frames (cmd %v) with a %d bound", total, len(frames), cmd, bound)
				}
			}
		})
		if limit := uint64(64*len(raw) + 1<<20); n > limit {
			t.Fatalf("allocated %d bytes for %d bytes of input", n, len(raw))
		}
		frames, cmd, err := ReadMessage(reader(EncodeMessage([]byte(topic), body)), 1<<20)
		if err != nil || cmd || len(frames) != 2 || string(frames[0]) != topic || !bytes.Equal(frames[1], body) {
			t.Fatalf("round trip: %q %v %v", frames, cmd, err)
		}
	})
}

// FuzzHandshake feeds arbitrary bytes as a peer's greeting and READY: no
// panic, at most MaxCommandBytes (plus buffers) allocated, and success
// only with a well-formed greeting and a compatible Socket-Type.
func FuzzHandshake(f *testing.F) {
	good := Greeting(false)
	f.Add(append(append([]byte(nil), good...), ReadyCommand(Pub)...))
	f.Add(append(append([]byte(nil), good...), ReadyCommand(Req)...))
	f.Add(append(append([]byte(nil), good...), binary.BigEndian.AppendUint64([]byte{0x06}, 0x7fffffffffffffff)...))
	f.Add(append(append([]byte(nil), good...), binary.BigEndian.AppendUint64([]byte{0x06}, 0x10_0000_0000)...))
	f.Add(append(append([]byte(nil), good...), AppendCommand(nil, CmdReady, []byte{11, 'S', 0xff, 0xff, 0xff, 0xff})...))
	f.Add(append(append([]byte(nil), good...), AppendCommand(nil, CmdError, []byte{3, 'b', 'a', 'd'})...))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add(good[:11])
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p Peer
		var err error
		n := allocated(func() { p, err = ReadHandshake(reader(raw), Sub) })
		if n > 1<<20 {
			t.Fatalf("allocated %d bytes", n)
		}
		if err != nil {
			return
		}
		if len(raw) < GreetingSize || !Sub.Compatible(p.Type) {
			t.Fatalf("accepted %+v from %q", p, raw)
		}
		if _, cerr := CheckGreeting(raw[:GreetingSize]); cerr != nil || errors.Is(cerr, ErrProtocol) {
			t.Fatalf("accepted a bad greeting: %v", cerr)
		}
	})
}

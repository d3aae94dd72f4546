package zmtp

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// chunk is the most allocated ahead of the bytes of a large frame; bigger
// frames grow (doubling) as their bytes arrive.
const chunk = 64 << 10

// AppendFrame appends one frame (header and body) with the given flags
// to b; FlagLong is set when the body is over 255 bytes.
func AppendFrame(b []byte, flags byte, body []byte) []byte {
	if len(body) > 255 {
		b = append(b, flags|FlagLong)
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	} else {
		b = append(b, flags&^FlagLong, byte(len(body)))
	}
	return append(b, body...)
}

// BeginFrame appends the header of a long frame whose body the caller
// appends next, and returns b and the header's offset for EndFrame.
func BeginFrame(b []byte, flags byte) ([]byte, int) {
	at := len(b)
	b = append(b, flags|FlagLong)
	return binary.BigEndian.AppendUint64(b, 0), at
}

// EndFrame completes the frame begun at offset at of b: it sets the
// length of the body that follows the header, and turns the frame into a
// short one (moving the body) when the body is at most 255 bytes, so the
// result is AppendFrame's.
func EndFrame(b []byte, at int) []byte {
	body := len(b) - at - 9
	if body > 255 {
		binary.BigEndian.PutUint64(b[at+1:], uint64(body))
		return b
	}
	b[at] &^= FlagLong
	b[at+1] = byte(body)
	copy(b[at+2:], b[at+9:])
	return b[:at+2+body]
}

// AppendMessage appends a message of the given frames to b, FlagMore set
// on all but the last. A message has at least one frame: no frames
// append one empty frame.
func AppendMessage(b []byte, frames ...[]byte) []byte {
	if len(frames) == 0 {
		return AppendFrame(b, 0, nil)
	}
	for i, f := range frames {
		var flags byte
		if i < len(frames)-1 {
			flags = FlagMore
		}
		b = AppendFrame(b, flags, f)
	}
	return b
}

// EncodeMessage returns the wire form of a message of the given frames,
// ready to be written to any number of peers.
func EncodeMessage(frames ...[]byte) []byte {
	n := 0
	for _, f := range frames {
		n += len(f) + 9
	}
	return AppendMessage(make([]byte, 0, n), frames...)
}

// AppendCommand appends a command frame (name, then data) to b. The name
// must be at most 255 bytes.
func AppendCommand(b []byte, name string, data []byte) []byte {
	body := make([]byte, 0, 1+len(name)+len(data))
	body = append(body, byte(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	return AppendFrame(b, FlagCommand, body)
}

// ParseCommand splits the body of a command frame into name and data.
func ParseCommand(frame []byte) (name string, data []byte, ok bool) {
	if len(frame) < 1 || int(frame[0]) > len(frame)-1 {
		return "", nil, false
	}
	n := int(frame[0])
	return string(frame[1 : 1+n]), frame[1+n:], true
}

// Pong returns the PONG command answering a PING command's data (TTL,
// then a context of up to 16 bytes, RFC 37), or false when data is too
// short to be a PING.
func Pong(pingData []byte) ([]byte, bool) {
	if len(pingData) < 2 {
		return nil, false
	}
	ctx := pingData[2:]
	if len(ctx) > 16 {
		ctx = ctx[:16]
	}
	return AppendCommand(nil, CmdPong, ctx), true
}

// ReadMessage reads one whole message, or one command, from r. It
// returns the frames (a command is one frame, its body) and whether it
// was a command. The frames are freshly allocated and owned by the
// caller. A message whose frames add up to more than max bytes, or that
// has more than MaxFrames frames, is refused with ErrTooBig as soon as
// its header says so, before its body is read; the connection is then
// out of step and should be closed.
func ReadMessage(r *bufio.Reader, max int) (frames [][]byte, cmd bool, err error) {
	total := 0
	for {
		flags, err := r.ReadByte()
		if err != nil {
			return nil, false, eof(err, len(frames) > 0)
		}
		var size uint64
		if flags&FlagLong != 0 {
			var hdr [8]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return nil, false, eof(err, true)
			}
			size = binary.BigEndian.Uint64(hdr[:])
		} else {
			b, err := r.ReadByte()
			if err != nil {
				return nil, false, eof(err, true)
			}
			size = uint64(b)
		}
		isCmd := flags&FlagCommand != 0
		if isCmd && len(frames) > 0 {
			return nil, false, fmt.Errorf("%w: command frame inside a message", ErrProtocol)
		}
		if max < total || size > uint64(max-total) || len(frames) >= MaxFrames {
			return nil, false, ErrTooBig
		}
		total += int(size)
		body, err := readBody(r, int(size))
		if err != nil {
			return nil, false, eof(err, true)
		}
		frames = append(frames, body)
		if isCmd {
			return frames, true, nil
		}
		if flags&FlagMore == 0 {
			return frames, false, nil
		}
	}
}

// readBody reads exactly n bytes, allocating at most chunk bytes ahead of
// what has arrived, so that an announced size costs nothing until sent.
func readBody(r io.Reader, n int) ([]byte, error) {
	if n <= chunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, chunk)
	for len(b) < n {
		if len(b) == cap(b) {
			nb := make([]byte, len(b), min(2*cap(b), n))
			copy(nb, b)
			b = nb
		}
		k, err := io.ReadFull(r, b[len(b):cap(b)])
		b = b[:len(b)+k]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// eof turns an end of input inside a message into io.ErrUnexpectedEOF;
// an end between messages stays io.EOF.
func eof(err error, inside bool) error {
	if inside && err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

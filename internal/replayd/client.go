package replayd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/debian/mailgw/bus/zmtp"
)

// MaxReplyBytes bounds a whole reply the client accepts.
const MaxReplyBytes = 256 << 20

// DefaultTimeout is the client's default for one query, connection
// included.
const DefaultTimeout = 10 * time.Second

// QueryRaw asks a replay endpoint for the envelopes matching req and
// returns the reply frames unparsed (each should be one canonical
// envelope). It uses a fresh REQ connection per query, given up after
// timeout (DefaultTimeout when 0) or when ctx ends, because a REQ whose
// peer vanished would wait for ever. An "error: '…'" reply is a
// *ReplyError (errors.Is ErrNoMatch and ErrTooMany tell the usual ones
// apart).
func QueryRaw(ctx context.Context, endpoint string, req Request, timeout time.Duration) ([][]byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	frames, err := Exchange(ctx, endpoint, [][]byte{body}, timeout)
	if err != nil {
		return nil, err
	}
	if len(frames) == 1 && bytes.HasPrefix(frames[0], []byte("error:")) {
		text := bytes.TrimSpace(frames[0][len("error:"):])
		text = bytes.TrimSuffix(bytes.TrimPrefix(text, []byte("'")), []byte("'"))
		return nil, &ReplyError{Text: string(text)}
	}
	return frames, nil
}

// Exchange sends one request message (any frames) to a REP endpoint and
// returns the reply frames, without the REQ envelope. It is the raw REQ
// round trip under Query.
func Exchange(ctx context.Context, endpoint string, request [][]byte, timeout time.Duration) ([][]byte, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, _, err := zmtp.SplitEndpoint(endpoint); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	conn, err := zmtp.Dial(ctx, endpoint)
	if err != nil {
		return nil, fmt.Errorf("replay %s: %w", endpoint, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	// The handshake runs under the query's deadline (timeout 0).
	r := bufio.NewReader(conn)
	if _, err := zmtp.Handshake(conn, r, zmtp.Req, false, 0); err != nil {
		return nil, wrapCtx(ctx, endpoint, err)
	}
	msg := append([][]byte{{}}, request...)
	if _, err := conn.Write(zmtp.EncodeMessage(msg...)); err != nil {
		return nil, wrapCtx(ctx, endpoint, err)
	}
	for {
		frames, cmd, err := zmtp.ReadMessage(r, MaxReplyBytes)
		if err != nil {
			return nil, wrapCtx(ctx, endpoint, err)
		}
		if cmd {
			continue
		}
		if len(frames) == 0 || len(frames[0]) != 0 {
			return nil, fmt.Errorf("replay %s: reply without the REQ delimiter", endpoint)
		}
		return frames[1:], nil
	}
}

// wrapCtx names the endpoint and prefers the context's reason (timeout)
// over the "use of closed connection" it causes.
func wrapCtx(ctx context.Context, endpoint string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("replay %s: %w", endpoint, ctx.Err())
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("replay %s: %w", endpoint, context.DeadlineExceeded)
	}
	return fmt.Errorf("replay %s: %w", endpoint, err)
}

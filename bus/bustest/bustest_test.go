package bustest

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/debian/mailgw/bus"
)

func TestPublisher(t *testing.T) {
	var p Publisher
	ctx := context.Background()
	for _, topic := range []string{"a.b", "c.d"} {
		env := bus.NewEnvelope(topic, map[string]any{"k": "é"}, "2026-x", 1, "u")
		if err := p.Publish(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	envs := p.Envelopes()
	if len(envs) != 2 || envs[0].I != 1 || envs[1].I != 2 {
		t.Fatalf("envelopes %+v", envs)
	}
	if got := p.Topics(); got[0] != "a.b" || got[1] != "c.d" {
		t.Fatalf("topics %v", got)
	}
	want, _ := envs[1].Marshal()
	if string(p.Bodies()[1]) != string(want) {
		t.Fatalf("body %s, want %s", p.Bodies()[1], want)
	}
	if err := p.Publish(ctx, &bus.Envelope{Msg: map[string]any{"f": math.Inf(1)}}); err == nil {
		t.Fatal("infinity accepted")
	}
	p.Err = errors.New("bus down")
	if err := p.Publish(ctx, &bus.Envelope{}); err != p.Err {
		t.Fatalf("Err: %v", err)
	}
	p.Err = nil
	p.Reset()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.Publish(cctx, &bus.Envelope{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled ctx: %v", err)
	}
	p.Close()
	if err := p.Publish(ctx, &bus.Envelope{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if len(p.Envelopes()) != 0 {
		t.Fatalf("Reset kept %d", len(p.Envelopes()))
	}
}

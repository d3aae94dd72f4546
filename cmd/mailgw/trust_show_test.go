package main

import (
	"context"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
)

// mailEnv makes a signed mail event whose msg.mail.auth is d's.
func mailEnv(t *testing.T, subject string, d *auth.Decision, s bus.Signer) *bus.Envelope {
	t.Helper()
	msg := map[string]any{"mail": map[string]any{"subject": subject, "auth": d.Object()}}
	env := bus.NewEnvelope("org.debian.dev.debbugs.bug.close", msg, bus.MsgID(2026, subject), 1795000000, "tester")
	if err := bus.Sign(env, s); err != nil {
		t.Fatal(err)
	}
	return env
}

// tail --trusted-only prints only what the gateway proved; --pretty says
// in a "# trust:" line what msg.mail.auth says.
func TestTailTrustedOnly(t *testing.T) {
	cfgPath, signer := busTestSigner(t)
	pub, wait := runTailAsync(t, "--config", cfgPath, "--pretty", "--trusted-only", "--count", "1")
	untrusted := mailEnv(t, "forged", &auth.Decision{DKIM: []auth.Signature{{Domain: "evil.example", Selector: "s", Result: "pass"}}}, signer)
	trusted := mailEnv(t, "real", &auth.Decision{Trusted: true, By: "dkim:bugs.debian.org", DKIM: []auth.Signature{{Domain: "bugs.debian.org", Selector: "smtpauto.buxtehude", Result: "pass"}}}, signer)
	for _, env := range []*bus.Envelope{untrusted, tailEnv(t, "org.debian.dev.logger.log", "no mail", signer), trusted} {
		if err := pub.Publish(context.Background(), env); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errOut := wait()
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "# trust: trusted, by dkim:bugs.debian.org (DKIM bugs.debian.org/smtpauto.buxtehude pass)\n{") || strings.Contains(out, "forged") || !strings.Contains(out, `"subject": "real"`) {
		t.Fatalf("stdout:\n%s", out)
	}
	for msg, want := range map[*bus.Envelope]string{
		untrusted: "UNTRUSTED: nothing proves where this mail came from (DKIM evil.example/s pass)",
		tailEnv(t, "org.debian.dev.logger.log", "x", nil): "none given",
	} {
		if got := trustLine(msg.Msg); !strings.HasPrefix(got, want) {
			t.Errorf("trustLine = %q, want %q", got, want)
		}
	}
}

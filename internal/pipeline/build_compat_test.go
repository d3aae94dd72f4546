package pipeline

import (
	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/parsers"
)

// debmessenger's topics keep environment "dev" (what Debian Code Search
// subscribes to) while mailgw's own follow the configured environment.
func TestCompatTopicStaysDev(t *testing.T) {
	cfg := config.Defaults()
	cfg.Environment = "prod"
	m := &parsers.Message{MessageID: "x@example.org"}
	evs := []parsers.Event{
		{Service: "dak", Object: "package", EventType: "upload", Payload: map[string]any{}},
		{Service: "debmessenger", Object: "package", EventType: "upload", Payload: map[string]any{}},
	}
	trust := (&auth.Decision{Trusted: true, By: "archive"}).Object()
	envs := Build(cfg, m, evs, time.Unix(1700000000, 0), false, trust)
	want := []string{"org.debian.prod.dak.package.upload", "org.debian.dev.debmessenger.package.upload"}
	for i, env := range envs {
		if env.Topic != want[i] {
			t.Errorf("topic %d = %q, want %q", i, env.Topic, want[i])
		}
	}
	// mailgw's event carries the trust decision in msg.mail.auth; the
	// debmessenger copy keeps debmessenger's shape, without it.
	body, err := bus.Canonical(envs[0].Msg["mail"])
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"auth":{"by":"archive","dkim":[],"trusted":true},"date":null,"from":"","from_email":null,"message_id":"x@example.org","subject":""}`; string(body) != want {
		t.Errorf("mail %s, want %s", body, want)
	}
	if mail := envs[1].Msg["mail"].(parsers.Object); mail.Get("auth") != nil {
		t.Errorf("debmessenger event has auth: %v", mail)
	}
}

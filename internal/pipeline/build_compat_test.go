package pipeline

import (
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
	envs := Build(cfg, m, evs, time.Unix(1700000000, 0), false)
	want := []string{"org.debian.prod.dak.package.upload", "org.debian.dev.debmessenger.package.upload"}
	for i, env := range envs {
		if env.Topic != want[i] {
			t.Errorf("topic %d = %q, want %q", i, env.Topic, want[i])
		}
	}
}

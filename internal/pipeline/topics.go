package pipeline

import (
	"github.com/debian/mailgw/internal/config"
)

// ownServices are the Event.Service values of mailgw's parsers, the
// debmessenger compatibility service aside (TestOwnTopicsCoverCorpus
// checks that every corpus event is covered).
var ownServices = []string{"dak", "debbugs", "pts", "tracker"}

// OwnTopics returns the topics mailgw publishes under cfg, as
// bus.Policy.RequireBinding patterns: <topic_prefix>.*.<service> for each
// of its services, and <topic_prefix>.*.debmessenger while
// compat_debmessenger is on. The environment segment is a wildcard, so a
// consumer whose config names another environment than the publisher's
// still requires the msg.mailgw binding on them.
func OwnTopics(cfg *config.Config) []string {
	out := make([]string, 0, len(ownServices)+1)
	for _, s := range ownServices {
		out = append(out, cfg.TopicPrefix+".*."+s)
	}
	if cfg.CompatDebmessenger {
		out = append(out, cfg.TopicPrefix+".*.debmessenger")
	}
	return out
}

package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The example file documents every key with its default: loading it must
// give exactly the defaults.
func TestExampleIsDefaults(t *testing.T) {
	got, err := Load("../../etc/mailgw.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Defaults()
	want.fill()
	// Empty lists in the example decode as empty, not nil.
	got.SRVEndpoints, got.Keyrings, got.UploadKeyrings, got.SMTP.AllowedRecipients, got.RequireBinding = nil, nil, nil, nil, nil
	got.Trust.TrustedRelays, got.Trust.TrustedAuthservIDs = nil, nil
	if got.RoutingPolicy != nil && len(got.RoutingPolicy) == 0 {
		got.RoutingPolicy = nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example config differs from Defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"unknown key":  "topic_prefx = \"x\"\n",
		"bad hwm":      "high_water_mark = 0\n",
		"bad format":   "[log]\nformat = \"xml\"\n",
		"tls half":     "[smtp]\ntls_cert = \"c\"\n",
		"bad duration": "[smtp]\nread_timeout = \"soon\"\n",
		"syntax":       "topic_prefix = \n",
		"amqp no url":  "[amqp]\nenabled = true\n",
		"amqp scheme":  "[amqp]\nurl = \"http://localhost/\"\n",
		"amqp tls":     "[amqp]\nurl = \"amqp://localhost/\"\nca_cert = \"ca.pem\"\n",
		"amqp cert":    "[amqp]\nurl = \"amqps://localhost/\"\ncertfile = \"c.pem\"\n",
		"amqp exch":    "[amqp]\nexchange = \"\"\n",
		"amqp start":   "[amqp]\nstart = \"now\"\n",
		"amqp badurl":  "[amqp]\nurl = \"amqp://u:s3cret@host:port/\"\n",
	}
	for name, body := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil {
			t.Errorf("%s: Load accepted %q", name, body)
		} else if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not name the file", name, err)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error %q shows the password", name, err)
		}
	}
	// Values serve would trip on: the error names the key and the value.
	for _, tc := range []struct{ body, want string }{
		{"environment = \"porod\"\n", `environment "porod": want one of dev, stg, prod`},
		{"[log]\nlevel = \"verbose\"\n", `log.level "verbose"`},
		{"[smtp]\nlisten = \"127.0.0.1:99999\"\n", `smtp.listen "127.0.0.1:99999": port "99999"`},
		{"[smtp]\nlmtp_listen = \"127.0.0.1:lmtp2\"\n", `smtp.lmtp_listen "127.0.0.1:lmtp2": port "lmtp2"`},
		{"[metrics]\nlisten = \"9942\"\n", `metrics.listen "9942"`},
		{"[endpoints]\nmailgw = [\"tcp://127.0.0.1:70000\"]\n", `endpoints.mailgw: "tcp://127.0.0.1:70000": port "70000"`},
		{"[replay_endpoints]\nmailgw = \"udp://127.0.0.1:9941\"\n", `replay_endpoints.mailgw: "udp://127.0.0.1:9941": want tcp://host:port or ipc://path`},
	} {
		p := filepath.Join(dir, "value.toml")
		if err := os.WriteFile(p, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.body, err, tc.want)
		}
	}
	for _, body := range []string{"environment = \"stg\"\n[log]\nlevel = \"WARN\"\n", "[endpoints]\na = [\"tcp://*:0\", \"ipc:///run/mailgw/bus\"]\n"} {
		p := filepath.Join(dir, "ok.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(p); err != nil {
			t.Errorf("%q: %v", body, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.toml")); err == nil {
		t.Error("missing file accepted")
	}
}

// The commented policy of etc/mailgw.toml for Debian's hosts loads when
// uncommented, and bad trust values are named.
func TestTrustPolicy(t *testing.T) {
	b, err := os.ReadFile("../../etc/mailgw.toml")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "# dkim_domains = ") || strings.HasPrefix(l, "# senders = ") || strings.HasPrefix(l, "# relays = ") {
			l = strings.TrimPrefix(l, "# ")
		}
		out = append(out, l)
	}
	path := filepath.Join(t.TempDir(), "debian.toml")
	os.WriteFile(path, []byte(strings.Join(out, "\n")), 0o644)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Trust.Configured() || c.Trust.Debbugs.DKIMDomains[0] != "bugs.debian.org" || len(c.Trust.Debbugs.Relays) != 2 {
		t.Fatalf("Debian policy: %+v", c.Trust)
	}
	if Defaults().Trust.Configured() {
		t.Error("the defaults count as a configured policy")
	}
	bad := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(bad, []byte("[trust]\ntrusted_relays = [\"10.0.0.0/33\"]\ndns_resolver = \"nohostport\"\n[trust.dak]\naction = \"drop\"\nsenders = [\"nobody\"]\n[trust.other]\naction = \"publish\"\n"), 0o644)
	_, err = Load(bad)
	if err == nil || !strings.Contains(err.Error(), "trust.other") {
		t.Fatalf("unknown service table: %v", err)
	}
	os.WriteFile(bad, []byte("[trust]\ntrusted_relays = [\"10.0.0.0/33\"]\ndns_resolver = \"nohostport\"\n[trust.dak]\naction = \"drop\"\nsenders = [\"nobody\"]\n"), 0o644)
	_, err = Load(bad)
	for _, want := range []string{"trust.trusted_relays", "trust.dns_resolver", "trust.dak.action", "trust.dak.senders"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not name %s", err, want)
		}
	}
}

// Retention periods: days or Go durations; keys kept shorter than
// bodies, or negative periods, are refused with the reason.
func TestRetention(t *testing.T) {
	dir := t.TempDir()
	load := func(body string) (*Config, error) {
		p := filepath.Join(dir, "c.toml")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return Load(p)
	}
	c, err := load("retention = \"30d\"\ndedup_retention = \"8760h\"\n")
	if err != nil || c.Retention.Hours() != 720 || c.DedupRetention.Hours() != 8760 {
		t.Fatalf("%+v %v", c, err)
	}
	for body, want := range map[string]string{
		"retention = \"30d\"\ndedup_retention = \"7d\"\n": "shorter than retention",
		"dedup_retention = \"7d\"\n":                      "shorter than retention",
		"retention = \"-1h\"\n":                           "must not be negative",
		"retention = \"1.5d\"\n":                          "whole days",
	} {
		if _, err := load(body); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

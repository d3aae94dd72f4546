//go:build e2e

package e2e

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfig: "serve --check-config" exits 0 for a good config, 78
// with the exact problem on stderr for a bad one (values serve would trip
// on included: a port out of range, an address of no interface here, a
// misspelled log.level or environment, a damaged journal), and 75 when
// the only problem is an address in use; it changes nothing.
func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	// Port 0 everywhere: the default ports may be in use by other tests.
	free := "[smtp]\nlisten = \"127.0.0.1:0\"\nlmtp_listen = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n" +
		"[endpoints]\nmailgw = [\"tcp://127.0.0.1:0\"]\n[replay_endpoints]\nmailgw = \"tcp://127.0.0.1:0\"\n"
	base := `state_dir = "` + state + `"` + "\n"
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	damaged := filepath.Join(dir, "damaged.sqlite")
	if err := os.WriteFile(damaged, []byte("SQLite format 3\x00 but not really a database, only damage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, toml string
		code       int
		stderr     string
	}{
		{"good", base + free, 0, "configuration OK"},
		{"unknown key", base + "frobnicate = 1\n" + free, 78, `unknown key "frobnicate"`},
		{"bad network", base + strings.Replace(free, "[smtp]\n", "[smtp]\nallowed_networks = [\"10.0.0.0/40\"]\n", 1), 78, "smtp.allowed_networks"},
		{"bad listen", base + strings.Replace(free, `listen = "127.0.0.1:0"`, `listen = "2525"`, 1), 78, "smtp.listen"},
		{"port out of range", base + strings.Replace(free, `listen = "127.0.0.1:0"`, `listen = "127.0.0.1:99999"`, 1), 78, `smtp.listen "127.0.0.1:99999": port "99999"`},
		{"address of no interface", base + strings.Replace(free, `listen = "127.0.0.1:0"`, `listen = "192.0.2.1:2525"`, 1), 78, "smtp.listen 192.0.2.1:2525: cannot bind"},
		{"address in use", base + strings.Replace(free, `listen = "127.0.0.1:0"`, `listen = "`+busy.Addr().String()+`"`, 1), 75, "smtp.listen " + busy.Addr().String() + ": address in use"},
		{"log level", base + "[log]\nlevel = \"debgu\"\n" + free, 78, `log.level "debgu"`},
		{"environment", base + "environment = \"porod\"\n" + free, 78, `environment "porod"`},
		{"missing key", base + "gpg_signing_key = \"" + dir + "/nope.asc\"\n" + free, 78, "gpg_signing_key"},
		{"state is a file", `state_dir = "` + filepath.Join(dir, "good.toml") + `"` + "\n" + free, 78, "state_dir"},
		{"bad endpoint", base + strings.Replace(free, "tcp://127.0.0.1:0\"]", "udp://x\"]", 1), 78, "endpoints.mailgw"},
		{"damaged journal", base + "journal = \"" + damaged + "\"\n" + free, 78, "journal " + damaged},
		{"amqp ca", base + free + "[amqp]\nenabled = true\nurl = \"amqps://u:s3cret@localhost/\"\nca_cert = \"" + damaged + "\"\n", 78,
			"amqp.ca_cert " + damaged + ": no PEM certificate"},
		{"trust policy", base + free + "[trust.debbugs]\ndkim_domains = [\"bugs.debian.org\"]\naction = \"quarantine\"\n", 0,
			"trust.debbugs: proven by DKIM from bugs.debian.org, senders none, relays none; otherwise quarantine"},
		{"no trust policy", base + free, 0, "trust: no policy configured"},
		{"bad trust action", base + free + "[trust.dak]\naction = \"drop\"\n", 78, "trust.dak.action"},
	} {
		name := strings.ReplaceAll(tc.name, " ", "-")
		cfg := filepath.Join(dir, name+".toml")
		if err := os.WriteFile(cfg, []byte(tc.toml), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(mailgw, "serve", "--config", cfg, "--check-config")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		cmd.Run()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr.String(), tc.code, tc.stderr)
		}
	}
	if _, err := os.Stat(state); err == nil {
		t.Error("--check-config created the state directory")
	}
}

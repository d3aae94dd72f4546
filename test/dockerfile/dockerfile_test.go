//go:build e2e

// Package dockerfile checks the Dockerfile on machines without a Docker
// engine: the build command it runs must succeed, and its entrypoint with
// its default arguments and the baked-in config must start mailgw serve.
package dockerfile

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

const root = "../.."

// dockerfile returns the build command (the RUN line after "# build:") and
// the ENTRYPOINT and CMD arrays.
func dockerfile(t *testing.T) (build string, entry, cmd []string) {
	f, err := os.Open(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	next := false
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "# build:":
			next = true
		case next && strings.HasPrefix(line, "RUN "):
			build, next = strings.TrimPrefix(line, "RUN "), false
		case strings.HasPrefix(line, "ENTRYPOINT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "ENTRYPOINT ")), &entry); err != nil {
				t.Fatalf("ENTRYPOINT: %v", err)
			}
		case strings.HasPrefix(line, "CMD "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "CMD ")), &cmd); err != nil {
				t.Fatalf("CMD: %v", err)
			}
		}
	}
	if build == "" || len(entry) == 0 || len(cmd) == 0 {
		t.Fatalf("Dockerfile: build %q, entrypoint %q, cmd %q", build, entry, cmd)
	}
	return build, entry, cmd
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestDockerfile(t *testing.T) {
	build, entry, cmd := dockerfile(t)
	out := t.TempDir()
	bin := filepath.Join(out, "mailgw")
	if !strings.Contains(build, "/out/mailgw") {
		t.Fatalf("build command %q does not write /out/mailgw", build)
	}
	c := exec.Command("sh", "-c", strings.ReplaceAll(build, "/out/mailgw", bin))
	c.Dir = root
	if b, err := c.CombinedOutput(); err != nil {
		t.Fatalf("build command %q: %v\n%s", build, err, b)
	}
	// The build sets the version (debian/changelog, else git describe)
	// and the commit: both are known in a git checkout.
	v, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("--version: %v", err)
	}
	if lines := strings.Split(string(v), "\n"); len(lines) < 3 || lines[0] == "mailgw dev" || lines[1] == "commit unknown" {
		t.Errorf("the Dockerfile's build sets no version or commit: --version says %q", v)
	}
	if entry[0] != "/usr/local/bin/mailgw" {
		t.Fatalf("entrypoint %q is not the binary the image installs", entry[0])
	}

	// The baked-in config, with the state on a temp dir (the volume) and
	// free ports instead of the fixed ones, since tests run side by side.
	conf, err := os.ReadFile(filepath.Join(root, "etc/docker/mailgw.toml"))
	if err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	text := strings.ReplaceAll(string(conf), "/var/lib/mailgw", state)
	metrics := freePort(t)
	text = regexp.MustCompile(`0\.0\.0\.0:(\d+)`).ReplaceAllStringFunc(text, func(m string) string {
		if m == "0.0.0.0:9942" {
			return fmt.Sprintf("127.0.0.1:%d", metrics)
		}
		return fmt.Sprintf("127.0.0.1:%d", freePort(t))
	})
	confPath := filepath.Join(out, "mailgw.toml")
	if err := os.WriteFile(confPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{}, cmd...)
	for i, a := range args {
		if a == "/etc/mailgw/mailgw.toml" {
			args[i] = confPath
		}
	}

	check := exec.Command(bin, append(append([]string{}, args...), "--check-config")...)
	if b, err := check.CombinedOutput(); err != nil {
		t.Fatalf("%v --check-config: %v\n%s", args, err, b)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	serve := exec.CommandContext(ctx, bin, args...)
	var stderr strings.Builder
	serve.Stderr = &stderr
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	healthy := false
	for i := 0; i < 100 && !healthy; i++ {
		time.Sleep(100 * time.Millisecond)
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", metrics))
		if err == nil {
			healthy = resp.StatusCode == http.StatusOK
			resp.Body.Close()
		}
	}
	serve.Process.Signal(syscall.SIGTERM)
	err = serve.Wait()
	if !healthy {
		t.Fatalf("entrypoint %v never became healthy\n%s", args, stderr.String())
	}
	if err != nil {
		t.Fatalf("entrypoint exit after SIGTERM: %v\n%s", err, stderr.String())
	}
}

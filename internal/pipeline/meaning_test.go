package pipeline

import (
	"flag"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/debian/mailgw/internal/meaning"
	"github.com/debian/mailgw/parsers"
)

var updateMeaning = flag.Bool("update-meaning", false, "rewrite testdata/meaning.txt from what the rules give now")

// meaningFile shows the meaning (msg.mailgw summary, url, packages,
// people) of every event of the golden corpus, for review.
var meaningFile = filepath.Join(corpusDir, "..", "meaning.txt")

// urlHosts are the pages each service's events may point at.
var urlHosts = map[string][]string{
	"dak":          {"https://tracker.debian.org/pkg/", "https://ftp-master.debian.org/new/", "https://bugs.debian.org/"},
	"debbugs":      {"https://bugs.debian.org/"},
	"pts":          {"https://tracker.debian.org/pkg/", "https://bugs.debian.org/"},
	"tracker":      {"https://tracker.debian.org/pkg/", "https://bugs.debian.org/"},
	"debmessenger": {"https://tracker.debian.org/pkg/", "https://bugs.debian.org/"},
}

var (
	pkgName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9+.-]*$`)
	bugURL  = regexp.MustCompile(`^https://bugs\.debian\.org/[1-9][0-9]*$`)
)

// TestMeaningOnCorpus: every event of every golden mail has a one-line
// summary; its url, where it has one, is well-formed and on the site of
// its kind (a bug's page, the NEW queue, the package tracker); its
// packages are package names and its people bare lower-case addresses;
// an event about a bug or a package has a url and its packages. What the
// rules give is pinned in testdata/meaning.txt (-update-meaning).
func TestMeaningOnCorpus(t *testing.T) {
	cfg := testConfig()
	c := classifier()
	var b strings.Builder
	n := 0
	for _, cm := range loadCorpus(t) {
		m, err := parsers.ReadMessage(cm.raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		for _, env := range Build(cfg, m, evs, fixedNow, false, nil) {
			n++
			name := strings.TrimPrefix(env.Topic, cfg.TopicPrefix+"."+cfg.Environment+".")
			name = strings.TrimPrefix(name, cfg.TopicPrefix+"."+CompatEnvironment+".")
			mg := env.Msg["mailgw"].(map[string]any)
			summary, _ := mg["summary"].(string)
			u, _ := mg["url"].(string)
			pkgs, _ := mg["packages"].([]string)
			people, _ := mg["people"].([]string)
			where := cm.name + " " + name
			if summary == "" || strings.ContainsAny(summary, "\r\n\t") || utf8.RuneCountInString(summary) > meaning.MaxSummary || !utf8.ValidString(summary) {
				t.Errorf("%s: summary %q is not one line of at most %d runes", where, summary, meaning.MaxSummary)
			}
			if mg["url"] != nil {
				checkURL(t, where, u, urlHosts[strings.Split(name, ".")[0]])
			}
			for _, p := range pkgs {
				if !pkgName.MatchString(p) {
					t.Errorf("%s: package %q", where, p)
				}
			}
			for _, p := range people {
				if p != strings.ToLower(p) || strings.Count(p, "@") != 1 || strings.ContainsAny(p, " <>\"") {
					t.Errorf("%s: person %q is not a bare lower-case address", where, p)
				}
			}
			_, hasBug := env.Msg["bug"]
			if hasBug && !bugURL.MatchString(u) && !strings.HasPrefix(name, "dak.") {
				t.Errorf("%s: a bug event's url is %q", where, u)
			}
			for _, k := range []string{"source", "package", "Source"} {
				if s, ok := env.Msg[k].(string); ok && pkgName.MatchString(s) && !contains(pkgs, strings.TrimPrefix(s, "src:")) {
					t.Errorf("%s: packages %v lack %s %q", where, pkgs, k, s)
				}
			}
			if (len(pkgs) > 0 || hasBug) && u == "" {
				t.Errorf("%s: about %v but no url", where, pkgs)
			}
			fmt.Fprintf(&b, "%s %s\n  summary: %s\n  url: %s\n  packages: %s\n  people: %s\n", cm.name, name, summary, u, strings.Join(pkgs, " "), strings.Join(people, " "))
		}
	}
	if n < 150 {
		t.Fatalf("only %d events", n)
	}
	if *updateMeaning {
		if err := os.WriteFile(meaningFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(meaningFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s line %d:\n got %s\nwant %s\n(regenerate with -update-meaning and review the diff)", meaningFile, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d (regenerate with -update-meaning)", meaningFile, len(gl), len(wl))
	}
}

// checkURL fails unless u is an absolute https URL under one of prefixes
// with nothing but a path.
func checkURL(t *testing.T, where, u string, prefixes []string) {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "https" || p.Host == "" || p.RawQuery != "" || p.Fragment != "" || p.User != nil || strings.Contains(p.Path, "..") {
		t.Errorf("%s: url %q is not a plain https URL (%v)", where, u, err)
		return
	}
	for _, pre := range prefixes {
		if strings.HasPrefix(u, pre) && len(u) > len(pre) {
			return
		}
	}
	t.Errorf("%s: url %q is on none of %v", where, u, prefixes)
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

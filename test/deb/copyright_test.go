package deb

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// stanza is one paragraph of a DEP-5 copyright file.
type stanza map[string]string

// parseDEP5 reads the paragraphs of a DEP-5 file: "Field: value" lines,
// continuation lines starting with a space.
func parseDEP5(text string) []stanza {
	var out []stanza
	for _, para := range strings.Split(text, "\n\n") {
		st := stanza{}
		var last string
		for _, line := range strings.Split(para, "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
				st[last] += "\n" + strings.TrimSpace(line)
				continue
			}
			k, v, _ := strings.Cut(line, ":")
			last = k
			st[k] = strings.TrimSpace(v)
		}
		if len(st) > 0 {
			out = append(out, st)
		}
	}
	return out
}

// module is a required module of go.mod, with its directory in the
// module cache.
type module struct {
	Path, Version, Dir string
}

// requiredModules lists go.mod's requirements with their directories
// (go mod download fills the cache: test/install-deps.sh runs it).
func requiredModules(t *testing.T) []module {
	t.Helper()
	out, err := exec.Command("go", "mod", "edit", "-json", filepath.Join(repoRoot, "go.mod")).Output()
	if err != nil {
		t.Fatalf("go mod edit -json: %v", err)
	}
	var gm struct{ Require []module }
	if err := json.Unmarshal(out, &gm); err != nil {
		t.Fatal(err)
	}
	args := []string{"mod", "download", "-json"}
	for _, m := range gm.Require {
		args = append(args, m.Path+"@"+m.Version)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var mods []module
	for dec.More() {
		var m module
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		mods = append(mods, m)
	}
	if len(mods) != len(gm.Require) {
		t.Fatalf("%d modules downloaded for %d requirements", len(mods), len(gm.Require))
	}
	return mods
}

// licenceFiles are a module's own licence and notice files; third-party
// notice lists (modernc's LICENSE-3RD-PARTY.md) are pointed to by the
// paragraph's Comment instead.
func licenceFiles(t *testing.T, dir string) map[string]string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range ents {
		n := strings.ToUpper(e.Name())
		if e.IsDir() || strings.Contains(n, "3RD-PARTY") ||
			!(strings.HasPrefix(n, "LICENSE") || strings.HasPrefix(n, "LICENCE") || strings.HasPrefix(n, "COPYING") || strings.HasPrefix(n, "NOTICE")) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// detectLicences names the licences a licence text grants, in DEP-5's
// short names.
func detectLicences(text string) []string {
	var out []string
	flat := strings.Join(strings.Fields(text), " ")
	if strings.Contains(flat, "Permission is hereby granted, free of charge") {
		out = append(out, "Expat")
	}
	if strings.Contains(flat, "Apache License") {
		out = append(out, "Apache-2.0")
	}
	if strings.Contains(flat, "Redistribution and use in source and binary forms") {
		// The third clause forbids using the names to endorse.
		if strings.Contains(flat, "to endorse or promote") {
			out = append(out, "BSD-3-clause")
		} else {
			out = append(out, "BSD-2-clause")
		}
	}
	return out
}

var (
	copyrightLine = regexp.MustCompile(`(?i)copyright\s+(?:\(c\)|©|\d)[^\n]*`)
	yearsEtc      = regexp.MustCompile(`(?i)copyright|all rights reserved|\d{4}(\s*[-,]\s*\d{4})*|[^\pL\pN@<>.]+`)
	copySign      = strings.NewReplacer("(c)", " ", "(C)", " ", "©", " ")
)

// words are the significant words of a copyright holder's text.
func words(s string) []string {
	var out []string
	for _, w := range strings.Fields(yearsEtc.ReplaceAllString(copySign.Replace(s), " ")) {
		w = strings.ToLower(strings.Trim(w, "."))
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// TestCopyrightCoversModules: debian/copyright has a paragraph
// "Files: vendor/MODULE/*" for every module of go.mod and for nothing
// else, each naming the licences the module's own licence files grant
// and the holders their copyright lines name (each holder's words, at
// least two thirds of them, in the paragraph's Copyright field), and
// every licence named has its text in a stand-alone paragraph.
func TestCopyrightCoversModules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "debian", "copyright"))
	if err != nil {
		t.Fatal(err)
	}
	stanzas := parseDEP5(string(b))
	if !strings.HasPrefix(stanzas[0]["Format"], "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0") {
		t.Fatalf("not DEP-5: %v", stanzas[0])
	}
	files := map[string]stanza{}
	texts := map[string]bool{}
	for _, st := range stanzas[1:] {
		if f, ok := st["Files"]; ok {
			files[f] = st
		} else if l := st["License"]; l != "" && strings.Contains(l, "\n") {
			name, _, _ := strings.Cut(l, "\n")
			texts[name] = true
		}
	}
	if st := files["*"]; st == nil || st["License"] != "Expat" {
		t.Errorf("the project's own paragraph (Files: *) is missing or not Expat: %v", st)
	}
	seen := map[string]bool{"*": true}
	for _, m := range requiredModules(t) {
		key := "vendor/" + m.Path + "/*"
		seen[key] = true
		st := files[key]
		if st == nil {
			t.Errorf("debian/copyright has no paragraph for %s %s (Files: %s)", m.Path, m.Version, key)
			continue
		}
		lic := st["License"]
		lfiles := licenceFiles(t, m.Dir)
		if len(lfiles) == 0 {
			t.Errorf("%s: no licence file in %s", m.Path, m.Dir)
		}
		holders := 0
		for name, text := range lfiles {
			for _, id := range detectLicences(text) {
				if !slices.Contains(strings.Fields(lic), id) {
					t.Errorf("%s: %s grants %s, the paragraph says License: %s", m.Path, name, id, lic)
				}
			}
			have := strings.Join(words(st["Copyright"]), " ")
			for _, line := range copyrightLine.FindAllString(text, -1) {
				if strings.Contains(line, "yyyy") {
					continue // the Apache licence's how-to
				}
				w := words(line)
				found := 0
				for _, x := range w {
					if strings.Contains(" "+have+" ", " "+x+" ") {
						found++
					}
				}
				if len(w) == 0 || found*3 < len(w)*2 {
					t.Errorf("%s: %s says %q; the paragraph's Copyright is %q", m.Path, name, line, st["Copyright"])
				}
				holders++
			}
		}
		if holders == 0 && st["Copyright"] == "" {
			t.Errorf("%s: no copyright holder", m.Path)
		}
		for _, id := range strings.Fields(lic) {
			if id != "and" && id != "or" && !texts[id] {
				t.Errorf("%s: licence %s has no stand-alone paragraph with its text", m.Path, id)
			}
		}
	}
	for f := range files {
		if !seen[f] {
			t.Errorf("debian/copyright has a paragraph for %s, which go.mod does not require", f)
		}
	}
}

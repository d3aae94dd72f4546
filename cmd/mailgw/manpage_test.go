package main

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// TestManPageDocumentsEverything checks that docs/mailgw.8 names every
// command, every option each command's -h lists, and every exit code the
// commands define.
func TestManPageDocumentsEverything(t *testing.T) {
	b, err := os.ReadFile("../../docs/mailgw.8")
	if err != nil {
		t.Fatal(err)
	}
	man := strings.ReplaceAll(string(b), `\-`, "-")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	flagRE := regexp.MustCompile(`(?:^|[\s\[|(])--?([a-z][a-z0-9]*(?:-[a-z0-9]+)*)`)
	for _, name := range names {
		if !strings.Contains(man, ".B "+name) && !strings.Contains(man, ".BI "+name) {
			t.Errorf("man page has no entry for command %q", name)
		}
		_, stdout, stderr := run(t, nil, name, "-h")
		for _, m := range flagRE.FindAllStringSubmatch(stdout+stderr, -1) {
			flag := m[1]
			if flag == "h" || flag == "help" || len(flag) < 3 {
				continue
			}
			if !strings.Contains(man, "--"+flag) {
				t.Errorf("man page does not document %s --%s", name, flag)
			}
		}
	}
	for _, code := range []string{"0", "1", "64", "65", "70", "75", "78"} {
		if !strings.Contains(man, ".B "+code+"\n") {
			t.Errorf("man page EXIT STATUS lacks %s", code)
		}
	}
}

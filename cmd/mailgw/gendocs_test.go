package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// Generated documentation: the man pages (docs/man/) and the bash and
// zsh completions (etc/completion/) are written from the command tree by
// cobra's generators, so that they cannot drift from it. gendocs_test.go
// fails when the committed files differ from what genDocs writes now;
// "go test ./cmd/mailgw -run TestGeneratedDocs -update" rewrites them.
//
// mailgw.8 is cobra's page of the root command with the hand-written
// sections of docs/man/mailgw.8.in (exit status, SMTP replies,
// configuration, files, examples) put before its SEE ALSO, and a
// COMMANDS section listing each subcommand's page.

// manSection is the manual section of every page: mailgw is a daemon
// and an administrator's tool.
const manSection = "8"

// genDocs writes the man pages into manDir (hand-written part read from
// manDir/mailgw.8.in) and the completions into complDir. The pages'
// date is that of the newest NEWS.md entry in newsPath.
func genDocs(manDir, complDir, newsPath string) error {
	date, err := newsDate(newsPath)
	if err != nil {
		return err
	}
	root := newRootCmd()
	hdr := &doc.GenManHeader{Section: manSection, Date: &date, Source: "mailgw", Manual: "System Administration"}
	if err := doc.GenManTree(root, hdr, manDir); err != nil {
		return err
	}
	handWritten, err := os.ReadFile(filepath.Join(manDir, "mailgw.8.in"))
	if err != nil {
		return err
	}
	rootPage := filepath.Join(manDir, "mailgw.8")
	page, err := os.ReadFile(rootPage)
	if err != nil {
		return err
	}
	page, err = spliceRootPage(page, commandsSection(root), handWritten)
	if err != nil {
		return err
	}
	if err := os.WriteFile(rootPage, page, 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(complDir, 0o755); err != nil {
		return err
	}
	var bash, zsh bytes.Buffer
	if err := root.GenBashCompletionV2(&bash, true); err != nil {
		return err
	}
	if err := root.GenZshCompletion(&zsh); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(complDir, "mailgw.bash"), bash.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(complDir, "_mailgw"), zsh.Bytes(), 0o644)
}

// newsDateRE finds the date of a NEWS.md entry heading: "## 0.2.0 (2026-12-02)".
var newsDateRE = regexp.MustCompile(`^## .*\((\d{4}-\d{2}-\d{2})\)`)

// newsDate is the date of the first (newest) entry of NEWS.md.
func newsDate(path string) (time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := newsDateRE.FindStringSubmatch(sc.Text()); m != nil {
			return time.Parse("2006-01-02", m[1])
		}
	}
	return time.Time{}, fmt.Errorf("%s: no entry heading like \"## 0.2.0 (2026-12-02)\"", path)
}

// commandsSection lists the visible subcommands with their pages.
func commandsSection(root *cobra.Command) []byte {
	var b bytes.Buffer
	b.WriteString(".SH COMMANDS\n")
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.IsAdditionalHelpTopicCommand() {
			continue
		}
		fmt.Fprintf(&b, ".TP\n.BR mailgw\\-%s (%s)\n%s\n", c.Name(), manSection, roffEscape(c.Short))
	}
	return b.Bytes()
}

// roffEscape makes text safe as roff body text.
func roffEscape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// seeAlsoMark splits mailgw.8.in: what follows it is added to the end
// of the generated SEE ALSO section.
const seeAlsoMark = ".\\\" SEE ALSO continues:\n"

// spliceRootPage puts the commands section and the hand-written sections
// before the SEE ALSO section of page, and the hand-written SEE ALSO
// entries at its end.
func spliceRootPage(page, commands, handWritten []byte) ([]byte, error) {
	i := bytes.Index(page, []byte(".SH SEE ALSO\n"))
	if i < 0 {
		return nil, fmt.Errorf("mailgw.8 as generated has no SEE ALSO section")
	}
	sections, seeAlso, ok := bytes.Cut(handWritten, []byte(seeAlsoMark))
	if !ok {
		return nil, fmt.Errorf("mailgw.8.in has no line %q", seeAlsoMark)
	}
	var b bytes.Buffer
	b.Write(page[:i])
	b.Write(commands)
	b.Write(sections)
	b.Write(bytes.TrimRight(page[i:], "\n"))
	b.WriteString(",\n")
	b.Write(seeAlso)
	return b.Bytes(), nil
}

var updateDocs = flag.Bool("update", false, "rewrite docs/man/*.8 and etc/completion/* from the command tree")

// TestGeneratedDocs: the committed man pages and shell completions are
// exactly what the command tree generates now (so a new command, flag or
// help text fails here until the pages are regenerated with -update),
// and no page is left for a command that is gone.
func TestGeneratedDocs(t *testing.T) {
	const manDir, complDir, news = "../../docs/man", "../../etc/completion", "../../NEWS.md"
	if *updateDocs {
		old, _ := filepath.Glob(filepath.Join(manDir, "*.8"))
		for _, p := range old {
			os.Remove(p)
		}
		if err := genDocs(manDir, complDir, news); err != nil {
			t.Fatal(err)
		}
	}
	tmp := t.TempDir()
	tmpMan, tmpCompl := filepath.Join(tmp, "man"), filepath.Join(tmp, "completion")
	if err := os.MkdirAll(tmpMan, 0o755); err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile(filepath.Join(manDir, "mailgw.8.in"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmpMan, "mailgw.8.in"), in, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := genDocs(tmpMan, tmpCompl, news); err != nil {
		t.Fatal(err)
	}
	const hint = "; run: go test ./cmd/mailgw -run TestGeneratedDocs -update"
	for _, pair := range [][2]string{{tmpMan, manDir}, {tmpCompl, complDir}} {
		want, _ := os.ReadDir(pair[0])
		for _, e := range want {
			w, _ := os.ReadFile(filepath.Join(pair[0], e.Name()))
			got, err := os.ReadFile(filepath.Join(pair[1], e.Name()))
			if err != nil {
				t.Errorf("%s is missing%s", filepath.Join(pair[1], e.Name()), hint)
			} else if !bytes.Equal(got, w) {
				t.Errorf("%s is stale%s", filepath.Join(pair[1], e.Name()), hint)
			}
		}
		have, _ := os.ReadDir(pair[1])
		for _, e := range have {
			if _, err := os.Stat(filepath.Join(pair[0], e.Name())); err != nil {
				t.Errorf("%s is not generated from any command (remove it)", filepath.Join(pair[1], e.Name()))
			}
		}
	}
	// TestExitCodesDocumented checks the exit codes of mailgw.8.in,
	// which mailgw.8 carries.
}

// TestDocsOwnTheContract: no file of the repository cites the seed
// specification that lives outside it (by its name and a section sign);
// every Markdown file under docs/ that code, help texts and docs name,
// and every relative link of the Markdown docs, is in the repository.
func TestDocsOwnTheContract(t *testing.T) {
	const root = "../.."
	spec := "SPEC " + "§"
	docRef := regexp.MustCompile(`docs/[A-Za-z0-9_-]+\.md`)
	mdLink := regexp.MustCompile(`\]\(([^)#\s]+)(?:#[^)]*)?\)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "testdata", "out", "node_modules", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(path) {
		case ".go", ".md", ".toml", ".8", ".in", ".sh", ".py", ".service":
		default:
			if d.Name() != "Dockerfile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		for i, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, spec) {
				t.Errorf("%s:%d cites the specification outside the repository: %s", rel, i+1, strings.TrimSpace(line))
			}
			for _, ref := range docRef.FindAllString(line, -1) {
				if _, err := os.Stat(filepath.Join(root, ref)); err != nil {
					t.Errorf("%s:%d names %s, which does not exist", rel, i+1, ref)
				}
			}
			if filepath.Ext(path) != ".md" {
				continue
			}
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				if _, err := os.Stat(filepath.Join(filepath.Dir(path), target)); err != nil {
					t.Errorf("%s:%d links to %s, which does not exist", rel, i+1, target)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBashCompletion: the generated bash completion, loaded into real
// bash with Debian's bash-completion, completes subcommands and options
// (options after arguments too) by asking the built binary; the zsh file
// is one zsh's compinit picks up.
func TestBashCompletion(t *testing.T) {
	bin := testBin(t)
	script := `source /usr/share/bash-completion/bash_completion
source ../../etc/completion/mailgw.bash
complete_line() {
	COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<<"$1"
	[[ "$1" == *" " ]] && COMP_WORDS+=("")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=(); __start_mailgw 2>/dev/null; echo "${COMPREPLY[*]}"
}
complete_line "mailgw pa"
complete_line "mailgw spool "
complete_line "mailgw parse f.eml --j"
complete_line "mailgw serve --check"
`
	cmd := exec.Command("bash", "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	// Each line must offer at least these words (more subcommands may come).
	want := [][]string{{"parse"}, {"list", "requeue", "show"}, {"--json"}, {"--check-config"}}
	if len(got) != len(want) {
		t.Fatalf("completions %q, want %q", got, want)
	}
	for i, words := range want {
		offered := strings.Fields(got[i])
		for _, w := range words {
			if !slices.Contains(offered, w) {
				t.Errorf("completion %d offers %q, lacks %q", i, got[i], w)
			}
		}
	}
	if strings.Contains(got[0], "publish") {
		t.Errorf("\"mailgw pa\" completes to %q", got[0])
	}
	zsh, err := os.ReadFile("../../etc/completion/_mailgw")
	if err != nil || !strings.HasPrefix(string(zsh), "#compdef mailgw") {
		t.Errorf("etc/completion/_mailgw does not start with #compdef mailgw: %v", err)
	}
}

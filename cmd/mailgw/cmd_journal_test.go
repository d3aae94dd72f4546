package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// TestJournalPruneAndBackup: prune takes retention from the config or
// its flags and reports what it did; backup writes a copy that answers
// like the journal and refuses to overwrite one; neither creates a
// missing journal.
func TestJournalPruneAndBackup(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml", `retention = "10d"`)
	if code, _, errOut := run(t, nil, "journal", "prune", "--config", cfg); code != 75 || !strings.Contains(errOut, "no journal at") {
		t.Errorf("prune without a journal: exit %d, %s", code, errOut)
	}
	j, err := journal.Open(filepath.Join(dir, "state", "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Unix()
	var envs []*bus.Envelope
	for i := range 30 {
		// 29.5 days old down to 0.5 days: half a day from every
		// retention boundary, so that the second that passes between
		// this now and prune's cannot move an event across one.
		age := int64(30-i)*86400 - 43200
		envs = append(envs, bus.NewEnvelope("org.debian.dev.x.y.z", map[string]any{"n": i}, fmt.Sprint("2026-n", i), now-age, "t"))
	}
	added, _ := j.Add(envs)
	if err := j.MarkPublished(seqOf(added)...); err != nil {
		t.Fatal(err)
	}
	j.Close()

	code, out, _ := run(t, nil, "journal", "prune", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "pruned 20 bodies (") || !strings.Contains(out, "through seq_id 20,") {
		t.Errorf("prune: exit %d, %q", code, out)
	}
	code, out, _ = run(t, nil, "journal", "prune", "--retention", "5d", "--dedup-retention", "8d", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "pruned 5 bodies (") || !strings.Contains(out, "and 22 dedup keys") {
		t.Errorf("prune with flags: exit %d, %q", code, out)
	}
	if code, _, errOut := run(t, nil, "journal", "prune", "--dedup-retention", "1d", "--config", cfg); code != 78 || !strings.Contains(errOut, "shorter than retention") {
		t.Errorf("keys kept shorter than bodies: exit %d, %s", code, errOut)
	}
	backup := filepath.Join(dir, "backup")
	code, out, _ = run(t, nil, "journal", "backup", backup, "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "backed up 8 envelopes (last seq_id 30) into "+filepath.Join(backup, "journal.sqlite")) {
		t.Errorf("backup: exit %d, %q", code, out)
	}
	if code, _, errOut := run(t, nil, "journal", "backup", backup, "--config", cfg); code != 1 || !strings.Contains(errOut, "exists") {
		t.Errorf("second backup: exit %d, %s", code, errOut)
	}
	c, err := journal.Open(filepath.Join(backup, "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if b, err := c.BySeqRange(26, 30, 10); err != nil || len(b) != 5 {
		t.Errorf("backup's kept range: %d, %v", len(b), err)
	}
	for _, args := range [][]string{{"backup"}, {"prune", "x"}, {"prune", "--retention", "5x"}} {
		if code, _, _ := run(t, nil, append([]string{"journal", "--config", cfg}, args...)...); code != 64 {
			t.Errorf("%v: exit %d, want 64", args, code)
		}
	}
}

func seqOf(envs []*bus.Envelope) []int64 {
	out := make([]int64, len(envs))
	for i, e := range envs {
		out[i] = e.SeqID
	}
	return out
}

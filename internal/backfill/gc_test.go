package backfill

import (
	"runtime/debug"
	"testing"
)

// TestTuneGCShared: backfills inside serve raise GOGC while any of them
// runs, and the last one to end restores what the first found, whatever
// the order they end in.
func TestTuneGCShared(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	orig := debug.SetGCPercent(150)
	defer debug.SetGCPercent(orig)
	gc := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }

	a := tuneGC(ModePublish, true)
	if got := gc(); got != sharedGCPercent {
		t.Fatalf("during a shared run GOGC = %d, want %d", got, sharedGCPercent)
	}
	b := tuneGC(ModePublish, true)
	a() // the first ends while the second runs
	if got := gc(); got != sharedGCPercent {
		t.Fatalf("with one shared run left GOGC = %d, want %d", got, sharedGCPercent)
	}
	b()
	if got := gc(); got != 150 {
		t.Fatalf("after the shared runs GOGC = %d, want 150 (restored)", got)
	}
}

// TestTuneGCEnvironment: an operator's GOGC wins inside serve too.
func TestTuneGCEnvironment(t *testing.T) {
	t.Setenv("GOGC", "100")
	orig := debug.SetGCPercent(120)
	defer debug.SetGCPercent(orig)
	restore := tuneGC(ModePublish, true)
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	restore()
	if p != 120 {
		t.Fatalf("GOGC set in the environment, yet a shared run changed it to %d", p)
	}
}

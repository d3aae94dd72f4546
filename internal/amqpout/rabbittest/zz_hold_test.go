package rabbittest

import (
	"os"
	"testing"
	"time"
)

func TestZZHold(t *testing.T) {
	f := os.Getenv("HOLD")
	if f == "" {
		t.Skip()
	}
	b, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	os.WriteFile(f, []byte(b.URL(Admin, AdminPassword)), 0o644)
	for {
		if _, err := os.Stat(f); err != nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

package control

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

// TestMayVouch: only serve's own user and root may send trust_archive;
// a member of serve's group (who can reach the socket) may not, nor a
// peer whose credentials could not be read.
func TestMayVouch(t *testing.T) {
	const self = 108
	for _, c := range []struct {
		name string
		cred *syscall.Ucred
		err  error
		want string // "" or a part of the refusal
	}{
		{"serve's user", &syscall.Ucred{Uid: self}, nil, ""},
		{"root", &syscall.Ucred{Uid: 0}, nil, ""},
		{"group member", &syscall.Ucred{Uid: 1000}, nil, "not uid 1000"},
		{"unknown peer", nil, errors.New("no SO_PEERCRED"), "credentials are unknown"},
	} {
		got := mayVouch(c.cred, c.err, self)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%s: mayVouch = %q, want %q", c.name, got, c.want)
		}
	}
}

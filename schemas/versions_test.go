package schemas_test

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/debian/mailgw/schemas"
)

var updateVersions = flag.Bool("update-versions", false, "record the versions and hashes of changed schemas whose version went up in schemas/versions.txt")

// versionsFile records, per schema, the version and the SHA-256 of the
// file that has it.
const versionsFile = "versions.txt"

// TestVersionBumped: a schema file whose content changed has a greater
// version in its $id than the one recorded with the old content, and
// schemas/versions.txt records every schema's current version and hash
// (-update-versions writes it, and refuses a change without a bump).
// A schema is never removed: consumers may still name it.
func TestVersionBumped(t *testing.T) {
	recorded := map[string][2]string{}
	raw, err := os.ReadFile(versionsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if l == "" {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 3 {
			t.Fatalf("%s: bad line %q", versionsFile, l)
		}
		recorded[f[0]] = [2]string{f[1], f[2]}
	}
	var b strings.Builder
	stale := false
	for _, in := range schemas.All() {
		data, err := fs.ReadFile(schemas.Files(), in.Name+".json")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		hash := hex.EncodeToString(sum[:])
		fmt.Fprintf(&b, "%s %s %s\n", in.Name, in.Version, hash)
		rec, ok := recorded[in.Name]
		delete(recorded, in.Name)
		switch {
		case !ok:
			stale = true
			if !*updateVersions {
				t.Errorf("%s.json %s is not in %s (run go test ./schemas -update-versions)", in.Name, in.Version, versionsFile)
			}
		case rec[1] == hash && rec[0] != in.Version:
			t.Errorf("%s.json: version %s, recorded %s with the same content", in.Name, in.Version, rec[0])
		case rec[1] == hash:
		case !greater(in.Version, rec[0]):
			t.Errorf("%s.json changed but its version %s is not above %s: bump MINOR for a compatible change, MAJOR otherwise (schemas/schemas.go)", in.Name, in.Version, rec[0])
		default:
			stale = true
			if !*updateVersions {
				t.Errorf("%s.json is now %s (recorded %s): run go test ./schemas -update-versions", in.Name, in.Version, rec[0])
			}
		}
	}
	for name := range recorded {
		t.Errorf("schema %s was removed", name)
	}
	if stale && *updateVersions && !t.Failed() {
		if err := os.WriteFile(versionsFile, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// greater reports whether version a (MAJOR.MINOR) is above b.
func greater(a, b string) bool {
	pa, pb := parse(a), parse(b)
	return pa[0] > pb[0] || pa[0] == pb[0] && pa[1] > pb[1]
}

func parse(v string) [2]int {
	ma, mi, _ := strings.Cut(v, ".")
	x, _ := strconv.Atoi(ma)
	y, _ := strconv.Atoi(mi)
	return [2]int{x, y}
}

func TestGreater(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{{"1.1", "1.0", true}, {"2.0", "1.9", true}, {"1.10", "1.9", true}, {"1.0", "1.0", false}, {"1.0", "1.1", false}} {
		if greater(c.a, c.b) != c.want {
			t.Errorf("greater(%s, %s) != %v", c.a, c.b, c.want)
		}
	}
}

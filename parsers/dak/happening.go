package dak

import (
	"slices"
	"strings"
	"time"
)

// uploadHappening identifies an accepted upload whichever mail announces
// it (parsers.Event.Happening): dak's maintainer copy ("P_V_A.changes
// ACCEPTED into S"), the -changes announce ("Accepted P V (A) into S")
// and a tracker's forward of either carry the same .changes, so the
// upload is its Source, Version, Architecture and Distribution fields
// (the lists sorted) and the suite dak put it into, where the mail names
// one. That tells apart a binNMU (another version), another
// architecture's upload of the same version and the same version in
// another suite. The msg_id's year is the .changes' Date's (uploadYear),
// not the mail's, so copies sent either side of a New Year still agree. A
// mail without the .changes, or whose .changes lacks one of the fields,
// gives "": its events keep the mail's identity.
func uploadHappening(c *ctx, pl map[string]any) string {
	if c.ch == nil {
		return ""
	}
	src, _ := pl["source"].(string)
	ver, _ := pl["version"].(string)
	arch, _ := pl["architecture"].([]string)
	dist, _ := pl["distribution"].([]string)
	if src == "" || ver == "" || len(arch) == 0 || len(dist) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("dak accepted\x00")
	b.WriteString(src)
	b.WriteByte(0)
	b.WriteString(ver)
	b.WriteByte(0)
	writeSorted(&b, arch)
	b.WriteByte(0)
	writeSorted(&b, dist)
	b.WriteByte(0)
	b.WriteString(c.suite())
	return b.String()
}

// uploadYear is the year (UTC) of the .changes' Date in pl, which every
// copy of the upload's mail carries; 0 when it is not a date.
func uploadYear(pl map[string]any) int {
	d, _ := pl["date"].(string)
	t, err := time.Parse(time.RFC3339, d)
	if err != nil {
		return 0
	}
	return t.UTC().Year()
}

// writeSorted writes the words of l in sorted order, space-separated,
// leaving l as it is.
func writeSorted(b *strings.Builder, l []string) {
	if !slices.IsSorted(l) {
		l = slices.Sorted(slices.Values(l))
	}
	for i, w := range l {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
}

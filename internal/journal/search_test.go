package journal

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
)

// searchTopics are the topics of the search tests' envelopes: three
// categories, one topic a prefix of another at a part boundary.
var searchTopics = []string{
	"org.debian.dev.dak.package.upload",
	"org.debian.dev.dak.package.upload.late",
	"org.debian.dev.dak.package.reject",
	"org.debian.dev.debbugs.bug.report",
	"org.debian.dev.debbugs.bug.close",
	"org.debian.dev.tracker.package.vcs",
}

var searchPackages = []string{"bash", "glibc", "linux", "zsh", "xfsprogs", "src:dpkg"}

// searchEnv is envelope i of a random journal: a topic, zero to two
// packages (in "source" or "packages", as the fallback reads them, or in
// msg.mailgw.packages), a text with a non-ASCII word now and then, and a
// timestamp near base spread over a few days, not in seq_id order.
func searchEnv(r *rand.Rand, i int, base int64) *bus.Envelope {
	topic := searchTopics[r.IntN(len(searchTopics))]
	msg := map[string]any{"text": fmt.Sprintf("event %d of %s", i, []string{"Jörg", "plain", "🎉 party", "quote \" here"}[r.IntN(4)])}
	switch r.IntN(4) {
	case 0:
		msg["source"] = searchPackages[r.IntN(len(searchPackages))]
	case 1:
		msg["packages"] = []any{searchPackages[r.IntN(len(searchPackages))], searchPackages[r.IntN(len(searchPackages))]}
	case 2:
		msg["mailgw"] = map[string]any{"packages": []string{searchPackages[r.IntN(3)]}}
	}
	ts := base + r.Int64N(4*86400) - r.Int64N(3)*3600
	return bus.NewEnvelope(topic, msg, fmt.Sprintf("2026-s%d", i), ts, "mailgw")
}

// ref is a journaled envelope as the brute-force reference sees it.
type ref struct {
	seq, ts int64
	topic   string
	pkgs    []string
	body    []byte
	text    string // refText(body)
}

// refMatch is Query's meaning, written out plainly from docs/web.md.
func refMatch(q *Query, e ref) bool {
	anyOf := func(list []string, f func(string) bool) bool { return slices.ContainsFunc(list, f) }
	is := func(v string) func(string) bool { return func(x string) bool { return x == v } }
	hasPkg := func(p string) bool { return slices.Contains(e.pkgs, strings.TrimPrefix(p, "src:")) }
	switch {
	case q.Window && (e.ts < q.From || e.ts > q.To):
	case len(q.Topics) > 0 && !anyOf(q.Topics, is(e.topic)):
	case len(q.TopicPrefixes) > 0 && !anyOf(q.TopicPrefixes, func(p string) bool { return TopicHasPrefix(e.topic, p) }):
	case len(q.Categories) > 0 && !anyOf(q.Categories, is(strings.Split(e.topic, ".")[3])):
	case len(q.Packages) > 0 && !anyOf(q.Packages, hasPkg):
	case len(q.Contains) > 0 && (e.body == nil || !anyOf(q.Contains, func(c string) bool { return strings.Contains(e.text, c) })):
	case anyOf(q.NotTopics, is(e.topic)), anyOf(q.NotCategories, is(strings.Split(e.topic, ".")[3])), anyOf(q.NotPackages, hasPkg):
	default:
		return true
	}
	return false
}

// refText is the msg's JSON text with non-ASCII characters as
// themselves, made another way than MsgText: decoded and re-encoded by
// bus's canonical encoder, then each \u escape of a non-ASCII character
// replaced through a table of the characters the test uses.
func refText(body []byte) string {
	env, err := bus.ParseEnvelope(body)
	if err != nil {
		panic(err)
	}
	b, err := bus.Canonical(env.Msg)
	if err != nil {
		panic(err)
	}
	return strings.NewReplacer(`\u00f6`, "ö", `\ud83c\udf89`, "🎉").Replace(string(b))
}

func TestSearchMatchesBruteForce(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	base := int64(1_700_000_000)
	var all []ref
	for b := 0; b < 6; b++ {
		var envs []*bus.Envelope
		for i := range 150 {
			envs = append(envs, searchEnv(r, b*150+i, base))
		}
		if _, err := j.Add(envs); err != nil {
			t.Fatal(err)
		}
	}
	for last := int64(0); ; {
		hs, err := j.After(last, 10000)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) == 0 {
			break
		}
		for _, h := range hs {
			env, _ := bus.ParseEnvelope(h.Body)
			all = append(all, ref{h.SeqID, h.Timestamp, h.Topic, EventPackages(env.Msg), h.Body, refText(h.Body)})
			last = h.SeqID
		}
	}
	if len(all) != 900 {
		t.Fatalf("%d envelopes", len(all))
	}
	check := func(name string, q Query) {
		t.Helper()
		q.MaxScan, q.MaxBodies = 100000, 100000
		var want []ref
		for _, e := range all {
			if refMatch(&q, e) {
				want = append(want, e)
			}
		}
		slices.SortFunc(want, func(a, b ref) int {
			c := a.ts - b.ts
			if c == 0 {
				c = a.seq - b.seq
			}
			if q.Desc {
				c = -c
			}
			return int(c)
		})
		f, err := j.Search(q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Total != int64(len(want)) {
			t.Errorf("%s: total %d, want %d", name, f.Total, len(want))
		}
		page := want[min(q.Offset, len(want)):min(q.Offset+q.Limit, len(want))]
		var got, exp []int64
		for _, h := range f.Hits {
			got = append(got, h.SeqID)
		}
		for _, e := range page {
			exp = append(exp, e.seq)
		}
		if !slices.Equal(got, exp) {
			t.Errorf("%s: page %v, want %v", name, got, exp)
		}
	}
	// Half the package index built, the rest read from the tail
	// (pkgindex.go); then all of it.
	if n, err := j.IndexPackages(500); err != nil || n != 500 {
		t.Fatalf("IndexPackages: %d, %v", n, err)
	}
	checkAll(t, base, check)
	for {
		n, err := j.IndexPackages(300)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if b, err := j.PackageIndexBehind(); err != nil || b != 0 {
		t.Fatalf("PackageIndexBehind = %d, %v", b, err)
	}
	checkAll(t, base, check)
}

// checkAll runs check on every kind of query, in windows and pages.
func checkAll(t *testing.T, base int64, check func(string, Query)) {
	hour := int64(3600)
	w := func(from, to int64) Query { return Query{Window: true, From: from, To: to} }
	for i, q := range []Query{
		{},
		{Topics: []string{searchTopics[0]}},
		{Topics: []string{searchTopics[0], searchTopics[3]}, Desc: true},
		{NotTopics: []string{searchTopics[0]}},
		{TopicPrefixes: []string{"org.debian.dev.dak.package.upload"}},
		{TopicPrefixes: []string{"org.debian.dev.deb"}},
		{TopicPrefixes: []string{"org.debian.dev."}},
		{Categories: []string{"debbugs"}},
		{Categories: []string{"dak", "tracker"}, NotTopics: []string{searchTopics[2]}},
		{NotCategories: []string{"dak"}},
		{Packages: []string{"bash"}},
		{Packages: []string{"bash", "glibc"}, Desc: true},
		{Packages: []string{"dpkg"}},
		{Packages: []string{"src:dpkg"}},
		{Packages: []string{"nosuch"}},
		{Packages: []string{"glibc"}, Categories: []string{"dak"}},
		{Packages: []string{"glibc"}, NotPackages: []string{"bash"}},
		{NotPackages: []string{"bash", "linux"}},
		{Contains: []string{"Jörg"}},
		{Contains: []string{"🎉", "event 17 "}},
		{Contains: []string{`quote \" here`}},
		{Contains: []string{"party"}, Packages: []string{"zsh"}},
		{Contains: []string{"plain"}, Topics: []string{searchTopics[4]}, NotPackages: []string{"zsh"}},
		{Topics: []string{"org.debian.dev.nosuch"}},
	} {
		for _, win := range []Query{{}, w(base, base+86400), w(base+hour/2, base+2*86400+hour/3),
			w(base+100, base+200), w(base+hour, base+2*hour-1), w(base-10*hour, base+hour*30+17)} {
			for _, p := range [][2]int{{0, 20}, {7, 5}, {200, 100}} {
				qq := q
				qq.Window, qq.From, qq.To = win.Window, win.From, win.To
				qq.Offset, qq.Limit = p[0], p[1]
				check(fmt.Sprintf("query %d %+v", i, qq), qq)
				qq.Desc = !qq.Desc
				check(fmt.Sprintf("query %d %+v", i, qq), qq)
			}
		}
	}
}

// TestSearchCost: queries the indexes cannot bound are refused naming
// the argument to narrow, before they run.
func TestSearchCost(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	var envs []*bus.Envelope
	for i := range 500 {
		envs = append(envs, searchEnv(r, i, 1_700_000_000))
	}
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q   Query
		arg string
	}{
		{Query{Contains: []string{"x"}, MaxScan: 1000, MaxBodies: 100}, "contains"},
		{Query{NotPackages: []string{"bash"}, MaxScan: 100, MaxBodies: 100}, "not_package"},
		{Query{Packages: []string{"bash", "glibc", "linux"}, MaxScan: 50, MaxBodies: 100}, "package"},
		{Query{Offset: 95, Limit: 10, MaxScan: 100}, "page"},
		{Query{Window: true, From: 1_700_000_000 + 1800, To: 1_800_000_000, Limit: 10, MaxScan: 1}, "start"},
		{Query{Window: true, From: 1_600_000_000, To: 1_700_000_000 + 3*86400 + 1800, Limit: 10, MaxScan: 1}, "end"},
	} {
		_, err := j.Search(c.q)
		var ce *CostError
		if !errors.As(err, &ce) || ce.Arg != c.arg {
			t.Errorf("%+v: %v, want a CostError on %s", c.q, err, c.arg)
		}
	}
	// Within the bounds, the same kinds of query run.
	if _, err := j.Search(Query{Contains: []string{"x"}, MaxScan: 1000, MaxBodies: 1000}); err != nil {
		t.Error(err)
	}
}

// TestSearchIndexMaintained: pruning bodies leaves the events findable
// (without bodies), pruning keys takes them out of every index and
// count, and a journal whose rows are not indexed (made before the
// indexes) is indexed when opened.
func TestSearchIndexMaintained(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	fillPublished(t, j, 200) // source bash, timestamps 1..200
	if n, err := j.IndexPackages(150); err != nil || n != 150 {
		t.Fatalf("IndexPackages: %d, %v", n, err)
	}
	q := Query{Packages: []string{"bash"}, Limit: 5, MaxScan: 1000, MaxBodies: 1000}
	if f, err := j.Search(q); err != nil || f.Total != 200 || f.Pruned.Through != 0 {
		t.Fatalf("before pruning: %v %v", f.Total, err)
	}
	if _, err := j.Prune(context.Background(), time.Unix(101, 0), time.Unix(51, 0)); err != nil {
		t.Fatal(err)
	}
	f, err := j.Search(q)
	if err != nil || f.Total != 150 || f.Hits[0].SeqID != 51 || f.Hits[0].Body != nil || f.Pruned.Through != 100 {
		t.Fatalf("after pruning: total %d, first %d (body %d bytes), %v, mark %+v", f.Total, f.Hits[0].SeqID, len(f.Hits[0].Body), err, f.Pruned)
	}
	ts, err := j.Topics()
	if err != nil || len(ts) != 1 || ts[0].N != 150 {
		t.Fatalf("topics after pruning keys: %+v %v", ts, err)
	}
	hs, err := j.Hours(0, 1)
	if err != nil || len(hs) != 1 || hs[0].N != 150 {
		t.Fatalf("hours after pruning keys: %+v %v", hs, err)
	}
	// Forget the index, as a journal made before it: Open rebuilds it.
	if _, err := j.db.Exec(`DELETE FROM env_packages; DELETE FROM topic_hours; UPDATE package_index SET through = 0;
		UPDATE topics SET n = 0; UPDATE envelopes SET topic_id = NULL, packages = NULL`); err != nil {
		t.Fatal(err)
	}
	j.Close()
	j = open(t, path)
	f, err = j.Search(q)
	// The rows whose bodies are pruned have no packages any more.
	if err != nil || f.Total != 100 || f.Hits[0].SeqID != 101 {
		t.Fatalf("after reindexing: %v, total %d", err, f.Total)
	}
	if f, err := j.Search(Query{Topics: []string{"org.debian.dev.dak.package.upload"}, MaxScan: 10}); err != nil || f.Total != 150 {
		t.Fatalf("topic after reindexing: %v %v", f.Total, err)
	}
}

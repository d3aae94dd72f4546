package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/pipeline/pipelinetest"
	"github.com/debian/mailgw/internal/spool"
)

// corpusEvent is a journaled event as the reference reads it: straight
// from the envelope, without the journal's indexes or its Search.
type corpusEvent struct {
	seq, ts  int64
	msgID    string
	topic    string
	category string
	pkgs     []string
	text     string // msg as JSON text, non-ASCII as itself
	body     string
}

// refText is the JSON text of msg, non-ASCII characters as themselves:
// encoded by encoding/json (not by bus's canonical encoder, whose output
// MsgText decodes), then its \u escapes of <, > and & undone.
func refText(msg map[string]any) string {
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
}

// replayCorpus journals every test mail of the project (golden mails,
// debbugs .log records, parser fuzz seeds) through the pipeline, as serve
// does, one mail every 37 minutes from base, and returns the journal and
// what the reference reads back from it.
func replayCorpus(t *testing.T, base time.Time) (*journal.Journal, []corpusEvent) {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	cfg := corpustest.Config()
	cfg.SignMessages = false
	// clock is read by Run's workers: mu orders it with the test's steps.
	var mu sync.Mutex
	clock := base
	spoolDir := filepath.Join(t.TempDir(), "spool")
	if err := spool.Create(spoolDir); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spoolDir, 0)
	if err != nil {
		t.Fatal(err)
	}
	p := pipelinetest.Start(t, pipeline.Options{Config: cfg, Classifier: corpustest.Classifier(), Journal: j, Publisher: NewHub(),
		Spool: sp, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }})
	mails := append(append(corpustest.Golden(t), corpustest.Logs(t)...), corpustest.FuzzSeeds(t)...)
	for _, m := range mails {
		name, err := sp.Deliver(bytes.NewReader(m.Raw), 0)
		if err == nil {
			_, err = p.Wait(name)
		}
		if err != nil {
			t.Fatalf("%s: %v", m.Name, err)
		}
		mu.Lock()
		clock = clock.Add(37 * time.Minute)
		mu.Unlock()
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	var evs []corpusEvent
	for last := int64(0); ; {
		hs, err := j.After(last, 500)
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) == 0 {
			break
		}
		for _, h := range hs {
			env, err := bus.ParseEnvelope(h.Body)
			if err != nil {
				t.Fatal(err)
			}
			e := corpusEvent{seq: h.SeqID, ts: env.Timestamp, msgID: env.MsgID, topic: env.Topic,
				category: strings.Split(env.Topic, ".")[3], text: refText(env.Msg), body: string(h.Body)}
			mg, _ := env.Msg["mailgw"].(map[string]any)
			ps, _ := mg["packages"].([]any)
			for _, p := range ps {
				e.pkgs = append(e.pkgs, p.(string))
			}
			evs = append(evs, e)
			last = h.SeqID
		}
	}
	return j, evs
}

// refQuery is the meaning of /v2/search's arguments (docs/web.md,
// datagrepper's reference), written out plainly.
func refQuery(evs []corpusEvent, v url.Values, now int64) (total int, page []string) {
	has := func(list []string, x string) bool { return slices.Contains(list, x) }
	anyPkg := func(list, pkgs []string) bool {
		return slices.ContainsFunc(list, func(p string) bool { return has(pkgs, strings.TrimPrefix(p, "src:")) })
	}
	var start, end, delta *float64
	for name, dst := range map[string]**float64{"start": &start, "end": &end, "delta": &delta} {
		if s := v.Get(name); s != "" {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				t, _ := time.Parse(time.RFC3339, s)
				f = float64(t.Unix())
			}
			*dst = &f
		}
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	n := float64(now)
	switch {
	case start != nil && end != nil:
		lo, hi = *start, *end
	case start != nil && delta != nil:
		lo, hi = *start, *start+*delta
	case start != nil:
		lo, hi = *start, n
	case end != nil && delta != nil:
		lo, hi = *end-*delta, *end
	case end != nil:
		lo, hi = *end-600, *end
	case delta != nil:
		lo, hi = n-*delta, n
	}
	var sel []corpusEvent
	for _, e := range evs {
		t := float64(e.ts)
		switch {
		case t < lo || t > hi:
		case len(v["topic"]) > 0 && !has(v["topic"], e.topic):
		case len(v["category"]) > 0 && !has(v["category"], e.category):
		case len(v["package"]) > 0 && !anyPkg(v["package"], e.pkgs):
		case len(v["contains"]) > 0 && !slices.ContainsFunc(v["contains"], func(c string) bool { return strings.Contains(e.text, c) }):
		case has(v["not_topic"], e.topic), has(v["not_category"], e.category), anyPkg(v["not_package"], e.pkgs):
		default:
			sel = append(sel, e)
		}
	}
	desc := v.Get("order") != "asc"
	sort.Slice(sel, func(i, j int) bool {
		a, b := sel[i], sel[j]
		if desc {
			a, b = b, a
		}
		return a.ts < b.ts || (a.ts == b.ts && a.seq < b.seq)
	})
	rpp, pg := 20, 1
	if s := v.Get("rows_per_page"); s != "" {
		rpp, _ = strconv.Atoi(s)
	}
	if s := v.Get("page"); s != "" {
		pg, _ = strconv.Atoi(s)
	}
	for _, e := range sel[min((pg-1)*rpp, len(sel)):min(pg*rpp, len(sel))] {
		page = append(page, e.body)
	}
	return len(sel), page
}

// TestSearchCorpus: on a journal of the whole corpus replayed, /v2/search
// answers each argument, alone and combined, exactly as the reference's
// direct read of the journal does; the envelopes are the journaled ones,
// byte for byte.
func TestSearchCorpus(t *testing.T) {
	base := time.Date(2026, 11, 20, 6, 10, 0, 0, time.UTC)
	j, evs := replayCorpus(t, base)
	if len(evs) < 200 {
		t.Fatalf("only %d events from the corpus", len(evs))
	}
	now := evs[len(evs)-1].ts + 3600
	f := newFixtureJournal(t, j, Options{Now: func() time.Time { return time.Unix(now, 0) }})
	// The package index half built: queries read the rest from the rows.
	if _, err := j.IndexPackages(len(evs) / 2); err != nil {
		t.Fatal(err)
	}

	// Values from the corpus: the commonest and a rare topic, every
	// category, packages with many and with one event, text in ASCII and
	// beyond.
	topics, pkgs := map[string]int{}, map[string]int{}
	cats := map[string]bool{}
	for _, e := range evs {
		topics[e.topic]++
		cats[e.category] = true
		for _, p := range e.pkgs {
			pkgs[p]++
		}
	}
	byCount := func(m map[string]int) []string {
		var l []string
		for k := range m {
			l = append(l, k)
		}
		sort.Slice(l, func(i, j int) bool { return m[l[i]] > m[l[j]] || (m[l[i]] == m[l[j]] && l[i] < l[j]) })
		return l
	}
	tl, pl := byCount(topics), byCount(pkgs)
	var cl []string
	for c := range cats {
		cl = append(cl, c)
	}
	sort.Strings(cl)
	nonASCII := ""
	for _, e := range evs {
		for _, r := range e.text {
			if r > 0x7f && r != '…' {
				nonASCII = string(r)
				break
			}
		}
		if nonASCII != "" {
			break
		}
	}
	if nonASCII == "" || len(cl) < 3 || len(pl) < 10 {
		t.Fatalf("corpus too small: non-ASCII %q, categories %v, %d packages", nonASCII, cl, len(pl))
	}
	mid := strconv.FormatInt(evs[len(evs)/2].ts, 10)
	// An event of the commonest package in the corpus' second half.
	var late corpusEvent
	for _, e := range evs[len(evs)/2:] {
		if slices.Contains(e.pkgs, pl[0]) {
			late = e
		}
	}
	q := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	queries := []url.Values{
		q(),
		q("order", "asc"),
		q("rows_per_page", "100", "page", "2"),
		q("rows_per_page", "7", "page", "5", "order", "asc"),
		q("topic", tl[0]),
		q("topic", tl[0], "topic", tl[len(tl)-1], "order", "asc"),
		q("not_topic", tl[0], "rows_per_page", "100"),
		q("category", cl[0]),
		q("category", cl[1], "category", cl[2], "page", "3"),
		q("not_category", cl[0], "order", "asc"),
		q("package", pl[0], "rows_per_page", "50"),
		q("package", pl[len(pl)-1]),
		q("package", "src:"+pl[1], "package", pl[2]),
		q("package", "no-such-package"),
		q("not_package", pl[0], "rows_per_page", "100", "page", "2"),
		q("package", pl[0], "not_package", pl[1]),
		q("contains", "xfsprogs"),
		q("contains", nonASCII, "order", "asc"),
		q("contains", "Bug#", "contains", "linux", "rows_per_page", "100"),
		q("contains", "closed", "category", "debbugs", "not_package", pl[0]),
		q("delta", "86400"),
		q("start", mid),
		q("start", mid, "delta", "40000", "order", "asc"),
		q("end", mid),
		q("end", mid, "delta", "7200"),
		q("start", strconv.FormatInt(base.Unix()+5000, 10), "end", mid, "rows_per_page", "100"),
		q("start", base.Add(24*time.Hour).Format(time.RFC3339), "end", base.Add(49*time.Hour+90*time.Second).Format(time.RFC3339), "delta", "5"),
		q("start", strconv.FormatFloat(float64(base.Unix())+1800.5, 'f', 1, 64), "category", cl[1], "package", pl[0], "contains", "a"),
		q("topic", late.topic, "package", pl[0], "start", mid, "order", "asc"),
	}
	for _, v := range queries {
		want, wantPage := refQuery(evs, v, now)
		a := search(t, f, v.Encode())
		var gotPage []string
		resp, body := get(t, f.srv.URL+"/v2/search?"+v.Encode())
		var raw struct {
			RawMessages []json.RawMessage `json:"raw_messages"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &raw) != nil {
			t.Fatalf("%s: %d %s", v.Encode(), resp.StatusCode, body)
		}
		for _, m := range raw.RawMessages {
			gotPage = append(gotPage, string(m))
		}
		rpp := 20
		if s := v.Get("rows_per_page"); s != "" {
			rpp, _ = strconv.Atoi(s)
		}
		if a.Total != want || a.Count != len(wantPage) || a.Pages != (want+rpp-1)/rpp || !slices.Equal(gotPage, wantPage) {
			t.Errorf("%s: total %d count %d pages %d, want %d %d %d; pages equal: %v",
				v.Encode(), a.Total, a.Count, a.Pages, want, len(wantPage), (want+rpp-1)/rpp, slices.Equal(gotPage, wantPage))
		}
		if want == 0 && !strings.Contains(v.Encode(), "no-such") {
			t.Errorf("%s: matches nothing; pick values that select something", v.Encode())
		}
	}
	t.Logf("%d events, %d queries", len(evs), len(queries))

	// Every argument that can be wrong, wrong: 400 naming it.
	for _, v := range []url.Values{q("start", "soon"), q("end", "1e300"), q("delta", "x"), q("page", "-1"),
		q("rows_per_page", "1000"), q("order", "random"), q("meta", "avatar"), q("topic", strings.Repeat("t", 201)),
		q("agent", "x"), q("not_user", "x"), q("size", "large"), q("chrome", "false"), q("rows", "5")} {
		var name string
		for k := range v {
			name = k
		}
		resp, body := get(t, f.srv.URL+"/v2/search?"+v.Encode())
		if resp.StatusCode != 400 || !strings.Contains(body, fmt.Sprintf(`"argument":%q`, name)) {
			t.Errorf("%s: %d %s, want 400 naming %s", v.Encode(), resp.StatusCode, body, name)
		}
	}
}

// newFixtureJournal is newFixture on an existing journal.
func newFixtureJournal(t *testing.T, j *journal.Journal, o Options) *fixture {
	return newFixtureWith(t, j, o, nil)
}

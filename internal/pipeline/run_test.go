package pipeline

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/parsers"
)

// pick returns the raw corpus mails whose names contain each key.
func pick(t *testing.T, keys ...string) [][]byte {
	t.Helper()
	var out [][]byte
	mails := loadCorpus(t)
	for _, k := range keys {
		found := false
		for _, m := range mails {
			if strings.Contains(m.name, k) {
				out = append(out, m.raw)
				found = true
				break
			}
		}
		if !found {
			t.Fatalf("no corpus mail %q", k)
		}
	}
	return out
}

func TestProcessSpooled(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	raws := pick(t, "009-bash-accepted", "300-dsn-postfix", "316-empty")
	var names []string
	for _, raw := range raws {
		n, err := r.sp.Deliver(bytes.NewReader(raw), 0)
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	outcomes := map[string]string{}
	r.opts.OnMail = func(name string, res *Result) { outcomes[name] = res.Outcome() }
	r.p = New(r.opts)
	for _, n := range names {
		if err := r.p.ProcessSpooled(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// Processing a name twice (the watch may emit it twice) is harmless.
	if err := r.p.ProcessSpooled(ctx, names[0]); err != nil {
		t.Errorf("second ProcessSpooled: %v", err)
	}
	if pend, _ := r.sp.Pending(); len(pend) != 0 {
		t.Errorf("left in spool: %v", pend)
	}
	if outcomes[names[0]] != OutcomePublished || outcomes[names[1]] != OutcomeQuarantined || len(outcomes) != 3 {
		t.Errorf("OnMail saw %v", outcomes)
	}
	if len(r.pub.Envelopes()) == 0 {
		t.Error("nothing published for the dak mail")
	}
	q, _ := r.sp.List()
	if len(q) != 2 || q[0].Name != names[1] || q[1].Name != names[2] {
		t.Fatalf("quarantine %+v", q)
	}
	if !strings.Contains(q[0].Reason, "delivery status notification") || !strings.Contains(q[1].Reason, "empty") {
		t.Errorf("reasons %q, %q", q[0].Reason, q[1].Reason)
	}
	logs := r.log.String()
	for _, want := range []string{"outcome=published", "outcome=quarantined", `topics="[org.debian.dev.dak.package.upload`, "message_id=E1JnWN1-0006fe-BU@ries.debian.org", `msg_ids="[2008-`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if n := strings.Count(logs, "msg=mail "); n != 3 {
		t.Errorf("%d mail log lines, want 3 (one per mail)", n)
	}
}

// panicParser claims every mail by panicking.
type panicParser struct{}

func (panicParser) Name() string { return "boom" }
func (panicParser) Parse(*parsers.Message) ([]parsers.Event, bool, string) {
	panic("index out of range [7] with length 3")
}

func TestParserPanicQuarantines(t *testing.T) {
	r := newRig(t)
	r.opts.Classifier = parsers.NewClassifier(panicParser{})
	p := New(r.opts)
	raw := pick(t, "009-bash")[0]
	res, err := p.Process(context.Background(), raw, true)
	if err != nil || !strings.HasPrefix(res.Quarantine, "parser panic: index out of range") {
		t.Fatalf("Process: %q, %v", res.Quarantine, err)
	}
	n, _ := r.sp.Deliver(bytes.NewReader(raw), 0)
	if err := p.ProcessSpooled(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	reason, _, err := r.sp.Show(n)
	if err != nil || !strings.Contains(reason, "reason: parser panic: index out of range [7]") {
		t.Fatalf("reason %q, %v", reason, err)
	}
}

// TestRun: Run picks up mail spooled before it started and while it runs,
// publishes each mail's events once and empties the spool.
func TestRun(t *testing.T) {
	r := newRig(t)
	mails := loadCorpus(t)
	want, quarantined := 0, 0
	deliver := func(ms []corpusMail) {
		for _, m := range ms {
			if _, err := r.sp.Deliver(bytes.NewReader(m.raw), 0); err != nil {
				t.Fatal(err)
			}
			want += len(m.want)
			if len(m.want) == 0 {
				quarantined++
			}
		}
	}
	deliver(mails[:len(mails)/2])
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.p.Run(ctx) }()
	deliver(mails[len(mails)/2:])
	deliver(mails[:10]) // redelivered: duplicates
	dups := 0
	for _, m := range mails[:10] {
		dups += len(m.want)
	}
	// Wait until the spool is drained (the deadline only guards a hang).
	deadline := time.Now().Add(60 * time.Second)
	for {
		pend, _ := r.sp.Pending()
		q, _ := r.sp.List()
		if len(pend) == 0 && len(q) == quarantined {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("spool not drained: %d pending, %d quarantined of %d", len(pend), len(q), quarantined)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := r.pub.Envelopes()
	if len(got) != want-dups {
		t.Errorf("published %d envelopes, want %d", len(got), want-dups)
	}
	seen := map[string]bool{}
	for i, env := range got {
		if seen[env.MsgID] {
			t.Errorf("msg_id %s twice", env.MsgID)
		}
		seen[env.MsgID] = true
		if env.SeqID != int64(i+1) {
			t.Fatalf("bus order: #%d has seq_id %d", i, env.SeqID)
		}
	}
}

// BenchmarkPipelineCorpus measures parse + classify + build (no signing,
// no journal) over the corpus mix, in mails per second on one core.
func BenchmarkPipelineCorpus(b *testing.B) {
	mails := loadCorpus(b)
	cfg := testConfig()
	cl := classifier()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		m := mails[n%len(mails)]
		n++
		msg, err := parsers.ReadMessage(m.raw)
		if err != nil {
			continue
		}
		evs, _ := cl.Classify(msg)
		Build(cfg, msg, evs, fixedNow, false, &auth.Decision{})
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "mails/s")
}

// nanParser claims every mail with a payload the bus cannot carry (a NaN
// has no JSON form).
type nanParser struct{}

func (nanParser) Name() string { return "nan" }
func (nanParser) Parse(*parsers.Message) ([]parsers.Event, bool, string) {
	return []parsers.Event{{Service: "dak", Object: "package", EventType: "upload", Rule: "x", Payload: map[string]any{"size": math.NaN()}}}, true, ""
}

func TestUncarriablePayloadQuarantines(t *testing.T) {
	r := newRig(t)
	r.opts.Classifier = parsers.NewClassifier(nanParser{})
	res, err := New(r.opts).Process(context.Background(), pick(t, "009-bash")[0], false)
	if err != nil || !strings.HasPrefix(res.Quarantine, "envelope org.debian.dev.dak.package.upload: ") {
		t.Fatalf("%q, %v", res.Quarantine, err)
	}
	if n, _ := r.j.Count(); n != 0 {
		t.Errorf("journaled %d", n)
	}
}

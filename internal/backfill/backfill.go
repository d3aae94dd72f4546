// Package backfill backfills events from mail archives (mailgw-replay(8), docs/flow.md): it
// streams the mails of mbox, Maildir and debbugs .log archives (package
// archive), turns them into the same envelopes live mail makes, marked
// msg.mailgw.replayed = true, and hands them to one of three targets:
//
//   - ModeSpool (the default of "mailgw replay"): each mail that yields a
//     new event is delivered into the spool of a running serve, which
//     journals and publishes it (the spool name, not the mail, carries
//     the replayed mark: spool.DeliverReplayed);
//   - ModePublish: envelopes are signed, journaled and published directly,
//     in batches (one journal transaction per batch);
//   - ModeDryRun: classify and build only; the summary counts topics and
//     quarantine reasons and nothing is published, spooled or written.
//
// Every event's msg_id is deterministic, so a mail whose envelopes are all
// journaled already counts as a duplicate and is neither published nor
// spooled again: replaying an archive twice publishes nothing new.
//
// A replay is resumable: a checkpoint file per archive (keyed by its path,
// size and modification time) records the last mail whose events are
// journaled or spooled; the same command skips the mails up to it.
package backfill

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/engine"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
)

// Mode selects where replayed mail goes.
type Mode int

// Replay targets.
const (
	ModeSpool Mode = iota
	ModePublish
	ModeDryRun
)

// Options configure Run.
type Options struct {
	Mode       Mode
	Config     *config.Config
	Classifier *parsers.Classifier
	// Signer signs envelopes in ModePublish (nil only when the config's
	// sign_messages is false).
	Signer bus.Signer
	// Journal is required in ModePublish; in ModeSpool it is optional and
	// used to skip mails whose events are journaled already.
	Journal   *journal.Journal
	Publisher bus.Publisher // ModePublish, unless Engine is set
	// Engine, in ModePublish, is the engine that journals and publishes
	// (serve's, when serve runs the replay): the replay's batches are
	// its Backfill jobs, behind live mail. nil means Run starts its own
	// on Journal and Publisher, republishes what an earlier run left
	// unpublished, and stops on a publish failure; with a shared engine,
	// a publish failure is the engine's to retry (PublishPending) and the
	// replay goes on. The Journal must be the engine's.
	Engine *engine.Engine
	Spool  *spool.Spool // ModeSpool
	// SpoolMax: in ModeSpool, wait before each batch while serve has this
	// many mails or more in the spool (0: never wait).
	SpoolMax int
	// Since and Until keep only mails whose Date is in [Since, Until);
	// zero means unbounded. With either set, mails without a usable Date
	// are skipped.
	Since, Until time.Time
	// Rate limits mails per second (0: unlimited).
	Rate float64
	// CheckpointDir holds checkpoint files ("" disables checkpoints);
	// CheckpointEvery is how many mails pass between writes (default
	// 1000). Restart ignores existing checkpoints.
	CheckpointDir   string
	CheckpointEvery int
	Restart         bool
	// AllRecords also replays the debbugs .log records of mail debbugs
	// received (incoming-recv, autocheck); by default only the mail
	// debbugs sent (recips records) is replayed, because that is what
	// mailgw receives live and the received copies make no events.
	AllRecords bool
	// Progress gets progress output (nil: none). Terminal selects the
	// progress bar; otherwise a plain line every ProgressEvery (5s).
	Progress      io.Writer
	Terminal      bool
	ProgressEvery time.Duration
	// Workers parse (and sign) in parallel; 0 means GOMAXPROCS.
	Workers int
	// BatchSize is the number of mails per journal transaction (256).
	BatchSize int
	// MaxMail bounds one mail (archive.DefaultMaxMail when 0).
	MaxMail int64
	Logger  *slog.Logger
	Now     func() time.Time
	// Observe, when set, is called in archive order for every envelope
	// built, with added = true when it was journaled (or spooled) as new.
	Observe func(env *bus.Envelope, added bool)
	// OnMail, when set, is called in archive order for every mail read
	// (not those a checkpoint covers or a filter drops), with the reason
	// it yields no event and its kind ("" when it yields events): for
	// metrics.
	OnMail func(reason string, kind pipeline.QuarantineKind)
	// OnJournaled, when set, is called in ModePublish each time the
	// events of every mail up to the one at index (offset) are
	// journaled, where the checkpoint moves (on the engine's goroutine;
	// serve's control socket tells its client).
	OnJournaled func(index int, offset int64)
	// Hold, when set, is called in ModePublish before each batch goes to
	// the engine, and may wait (serve waits while a bus subscriber lags,
	// so that a backfill does not fill the subscriber queues live mail
	// must pass through); its error stops the replay.
	Hold func(ctx context.Context) error
	// Verifier judges every mail's trust in ModePublish and ModeDryRun
	// (nil: Config.Trust's policy without DKIM checking). In ModeSpool
	// serve judges the spooled mail, so replay does not.
	Verifier *auth.Verifier
	// TrustArchive: the operator vouches for the archives (replay
	// --trust-archive): every mail counts as proven ("by": "archive"),
	// and in ModeSpool the spool name says so (spool.Origin).
	TrustArchive bool
}

// Summary counts what a replay did.
type Summary struct {
	Files int
	// Mails is the number of mails read from the archives.
	Mails int
	// Resumed are mails skipped because a checkpoint covered them.
	Resumed int
	// Filtered are mails outside --since/--until (or without a date when
	// filtering) and .log records of kinds not replayed.
	Filtered int
	// Events is the number of envelopes built.
	Events int
	// New is the number of envelopes journaled and published (ModePublish),
	// or of events in mails spooled (ModeSpool); 0 in a dry run.
	New int
	// Spooled is the number of mails delivered into the spool.
	Spooled int
	// Duplicates are envelopes already journaled.
	Duplicates int
	// Quarantined are mails that yield no event; Reasons counts them by
	// reason (shortened to its kind).
	Quarantined int
	Reasons     map[string]int
	// Errors are damaged records and streams (logged, replay goes on).
	Errors int
	// Topics counts the envelopes built by topic.
	Topics  map[string]int
	Bytes   int64
	Elapsed time.Duration
}

// MailsPerSecond is the replay speed.
func (s *Summary) MailsPerSecond() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Mails) / s.Elapsed.Seconds()
}

// String is the one-paragraph summary printed at the end.
func (s *Summary) String() string {
	return fmt.Sprintf("replay: %d files, %d mails (%d resumed, %d filtered), %d events: %d new, %d duplicates, %d spooled mails, %d quarantined, %d errors, %.1fs, %.0f mails/s",
		s.Files, s.Mails, s.Resumed, s.Filtered, s.Events, s.New, s.Duplicates, s.Spooled, s.Quarantined, s.Errors, s.Elapsed.Seconds(), s.MailsPerSecond())
}

// Table is the dry-run report: topics and counts, then quarantine reasons
// and counts, each sorted by count then name.
func (s *Summary) Table() string {
	var b strings.Builder
	table := func(title string, m map[string]int) {
		fmt.Fprintf(&b, "%-60s %8s\n", title, "count")
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if m[keys[i]] != m[keys[j]] {
				return m[keys[i]] > m[keys[j]]
			}
			return keys[i] < keys[j]
		})
		for _, k := range keys {
			fmt.Fprintf(&b, "%-60s %8d\n", k, m[k])
		}
	}
	table("TOPIC", s.Topics)
	b.WriteByte('\n')
	table("QUARANTINE REASON", s.Reasons)
	return b.String()
}

// Archive is an archive the caller opened, for RunArchives.
type Archive struct {
	// Name names it in logs and progress.
	Name   string
	Reader archive.Reader
	// Path, if not "", is the archive file Reader reads: its checkpoint
	// (CheckpointDir, keyed by the file's path, size and modification
	// time) is read and moved as Run does. "" replays it without one.
	Path string
}

// Run replays files in order. It returns the summary and the first error
// that stopped it (a cancelled ctx, the journal, spool or bus failing);
// damaged archives are not such errors: they are logged and counted.
func Run(ctx context.Context, o Options, files []string) (Summary, error) {
	return replay(ctx, o, files, nil)
}

// RunArchives is Run on archives the caller opened (serve's backfill of
// an uploaded archive, say): it reads each Reader to its end and does not
// close it.
func RunArchives(ctx context.Context, o Options, archives []Archive) (Summary, error) {
	return replay(ctx, o, nil, archives)
}

func replay(ctx context.Context, o Options, files []string, archives []Archive) (Summary, error) {
	if err := o.check(); err != nil {
		return Summary{}, err
	}
	s := Summary{Topics: map[string]int{}, Reasons: map[string]int{}}
	if o.Verifier == nil {
		v, err := auth.NewOffline(o.Config.Trust)
		if err != nil {
			return s, err
		}
		o.Verifier = v
	}
	start := o.Now()
	// On a shared engine the replay runs inside serve, and the
	// collector's settings are the process's (tuneGC).
	defer tuneGC(o.Mode, o.Engine != nil)()
	own := false
	if o.Mode == ModePublish && o.Engine == nil {
		own = true
		o.Engine = engine.Start(ctx, engine.Options{Journal: o.Journal, Publisher: o.Publisher, Logger: o.Logger})
		defer o.Engine.Close()
		// Envelopes journaled by an interrupted run but not published.
		n, err := o.Engine.PublishPending(ctx)
		if err != nil {
			return s, fmt.Errorf("replay: publishing pending envelopes: %w", err)
		}
		if n > 0 {
			o.Logger.Info("replay: published envelopes left unpublished by an earlier run", "count", n)
		}
	}
	prog := newProgress(&o)
	defer func() { prog.finish(&s) }()
	one := func(err error) error {
		s.Files++
		s.Elapsed = o.Now().Sub(start)
		return err
	}
	for _, f := range files {
		if err := one(runFile(ctx, &o, own, f, &s, prog)); err != nil {
			return s, err
		}
	}
	for _, a := range archives {
		if err := one(runArchive(ctx, &o, own, a, &s, prog)); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (o *Options) check() error {
	if o.Config == nil || o.Classifier == nil {
		return errors.New("replay: Config and Classifier are required")
	}
	switch o.Mode {
	case ModePublish:
		if o.Journal == nil || (o.Publisher == nil && o.Engine == nil) {
			return errors.New("replay: publishing needs a journal and a publisher or engine")
		}
		if o.Signer == nil && o.Config.SignMessages {
			return errors.New("replay: sign_messages is on but no signing key is loaded")
		}
	case ModeSpool:
		if o.Spool == nil {
			return errors.New("replay: spool mode needs a spool")
		}
	}
	o.defaults()
	return nil
}

// defaults fills the options left zero that every run uses (Run and
// RunRemote alike).
func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 1000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 256
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
}

// reasonKind shortens a quarantine reason to its kind for the table:
// the text before the first " (" or ": ", at most 60 bytes.
func reasonKind(r string) string {
	for _, sep := range []string{" (", ": "} {
		if i := strings.Index(r, sep); i > 0 {
			r = r[:i]
		}
	}
	if len(r) > 60 {
		r = r[:60]
	}
	return r
}

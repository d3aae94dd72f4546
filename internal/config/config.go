// Package config loads mailgw's one TOML configuration file. Key names
// reuse fedmsg's where fedmsg has one (topic_prefix, environment, endpoints,
// replay_endpoints, srv_endpoints, gpg_signing_key, high_water_mark,
// routing_policy). Every key, its default and its meaning is documented in
// etc/mailgw.toml; Defaults below is the single place defaults are set.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration. Zero values are filled from Defaults.
type Config struct {
	// TopicPrefix and Environment start every topic (org.debian.dev.…).
	TopicPrefix string `toml:"topic_prefix"`
	Environment string `toml:"environment"`
	// Name is this publisher's key in Endpoints and ReplayEndpoints.
	Name string `toml:"name"`
	// Username goes into every envelope's username field.
	Username string `toml:"username"`

	// StateDir holds spool/, quarantine/, journal.sqlite (and its
	// journal.sqlite-bodies) and keys/.
	StateDir string `toml:"state_dir"`
	// SpoolDir, QuarantineDir and Journal default to places in StateDir.
	SpoolDir      string `toml:"spool_dir"`
	QuarantineDir string `toml:"quarantine_dir"`
	Journal       string `toml:"journal"`
	// SpoolMinFreeBytes: below this much free space the spool counts as
	// full (SMTP 452, deliver exit 75).
	SpoolMinFreeBytes int64 `toml:"spool_min_free_bytes"`
	// Retention: envelope bodies journaled longer ago are pruned (the
	// replay endpoint then answers "pruned" for them); 0 keeps them all.
	Retention Duration `toml:"retention"`
	// DedupRetention: the dedup keys (msg_ids) of envelopes journaled
	// longer ago are pruned too, after which a redelivered mail is
	// published again; 0 keeps them all. At least Retention.
	DedupRetention Duration `toml:"dedup_retention"`

	// Endpoints maps a publisher name to ZeroMQ endpoints. serve binds
	// Endpoints[Name]; tail connects to every endpoint of every key.
	Endpoints map[string][]string `toml:"endpoints"`
	// ReplayEndpoints maps a publisher name to its REP endpoint.
	ReplayEndpoints map[string]string `toml:"replay_endpoints"`
	// SRVEndpoints are domains whose _fedmsg._tcp SRV records add endpoints.
	SRVEndpoints []string `toml:"srv_endpoints"`
	// HighWaterMark bounds the messages queued per subscriber.
	HighWaterMark int `toml:"high_water_mark"`
	// SubscriberQueueBytes bounds the bytes queued per subscriber of
	// serve's bus, MaxSubscribers the subscribers served at once: the
	// bus's memory is at most MaxSubscribers × (SubscriberQueueBytes +
	// about 32 KiB).
	SubscriberQueueBytes int64 `toml:"subscriber_queue_bytes"`
	MaxSubscribers       int   `toml:"max_subscribers"`
	// A subscriber whose queue is full is waited for while it drains:
	// it is stuck, and misses messages, once it wrote nothing for
	// SubscriberStallTimeout or was waited for SubscriberMaxWait since
	// its queue was last empty (0: never wait, drop at once).
	SubscriberStallTimeout Duration `toml:"subscriber_stall_timeout"`
	SubscriberMaxWait      Duration `toml:"subscriber_max_wait"`
	// ReplayMaxReply bounds how many envelopes one replay reply carries.
	ReplayMaxReply int `toml:"replay_max_reply"`
	// The replay endpoint's peers: one silent for ReplayIdleTimeout is
	// disconnected; at most ReplayMaxClients connections (the longest
	// idle one makes room for a new client), at most
	// ReplayMaxClientsPerAddress from one address.
	ReplayIdleTimeout          Duration `toml:"replay_idle_timeout"`
	ReplayMaxClients           int      `toml:"replay_max_clients"`
	ReplayMaxClientsPerAddress int      `toml:"replay_max_clients_per_address"`

	// SignMessages must stay true unless publishing unsigned on purpose.
	SignMessages bool `toml:"sign_messages"`
	// GPGSigningKey is an ASCII-armored secret key file.
	GPGSigningKey string `toml:"gpg_signing_key"`
	// GPGPassphraseFile holds the key's passphrase, if it has one.
	GPGPassphraseFile string `toml:"gpg_passphrase_file"`
	// Keyrings are public key files (armored or binary) that tail and
	// verify trust.
	Keyrings []string `toml:"keyrings"`
	// RoutingPolicy maps a topic prefix to the fingerprints allowed to sign
	// under it; RoutingNitpicky rejects topics no prefix covers.
	RoutingPolicy   map[string][]string `toml:"routing_policy"`
	RoutingNitpicky bool                `toml:"routing_nitpicky"`
	// RequireBinding lists more topics (prefixes; a segment "*" matches any
	// one) whose envelopes must carry the msg.mailgw binding, besides
	// mailgw's own topics, which always must. Elsewhere tail and verify
	// accept unbound envelopes (fedmsg's, which sign msg only).
	RequireBinding []string `toml:"require_binding"`
	// AllowSHA1Signatures accepts envelope signatures made with SHA-1
	// (GnuPG 1.4's default, in 2013-era archives); refused by default.
	AllowSHA1Signatures bool `toml:"allow_sha1_signatures"`
	// UploadKeyrings check the uploader's signature on .changes files.
	UploadKeyrings []string `toml:"upload_keyrings"`

	// CompatDebmessenger also publishes debmessenger's topics (docs/topics.md).
	CompatDebmessenger bool `toml:"compat_debmessenger"`
	// MaxBodyBytes bounds decoded bodies copied into payloads.
	MaxBodyBytes int `toml:"max_body_bytes"`

	SMTP    SMTP    `toml:"smtp"`
	Trust   Trust   `toml:"trust"`
	Metrics Metrics `toml:"metrics"`
	Web     Web     `toml:"web"`
	Log     Log     `toml:"log"`
	AMQP    AMQP    `toml:"amqp"`
}

// SMTP configures serve's SMTP and LMTP listeners.
type SMTP struct {
	Listen            string   `toml:"listen"`
	LMTPListen        string   `toml:"lmtp_listen"`
	Domain            string   `toml:"domain"`
	AllowedNetworks   []string `toml:"allowed_networks"`
	AllowedRecipients []string `toml:"allowed_recipients"`
	MaxMessageBytes   int64    `toml:"max_message_bytes"`
	MaxConnections    int      `toml:"max_connections"`
	// MaxConnectionsPerAddress bounds the connections of one client
	// address (0: no bound beyond MaxConnections).
	MaxConnectionsPerAddress int `toml:"max_connections_per_address"`
	MaxRecipients            int `toml:"max_recipients"`
	// ReadTimeout bounds each read; CommandTimeout one whole command
	// line; DataTimeout one whole DATA (a client dribbling a byte at a
	// time is dropped when these run out).
	ReadTimeout    Duration `toml:"read_timeout"`
	CommandTimeout Duration `toml:"command_timeout"`
	DataTimeout    Duration `toml:"data_timeout"`
	WriteTimeout   Duration `toml:"write_timeout"`
	TLSCert        string   `toml:"tls_cert"`
	TLSKey         string   `toml:"tls_key"`
}

// Metrics configures the admin HTTP listener (/metrics, /healthz, /livez).
type Metrics struct {
	Listen string `toml:"listen"`
	// MaxSpoolAge: /healthz answers 503 while the oldest mail waiting in
	// the spool is older than this (0 turns the check off).
	MaxSpoolAge Duration `toml:"max_spool_age"`
}

// Web configures serve's read-only web listener: the live view, the
// datagrepper-style history API and /stats (docs/web.md).
type Web struct {
	// Listen is the address of the listener; "" (the default) is off.
	Listen string `toml:"listen"`
	// MaxStreams bounds the live streams (/events) served at once.
	MaxStreams int `toml:"max_streams"`
	// MaxScan bounds the index entries one query examines one by one;
	// MaxBodies the bodies it reads for "contains".
	MaxScan   int `toml:"max_scan"`
	MaxBodies int `toml:"max_bodies"`
	// StreamWriteTimeout drops a live stream whose reader has not taken
	// an event for this long.
	StreamWriteTimeout Duration `toml:"stream_write_timeout"`
}

// Log configures log/slog output on stderr.
type Log struct {
	Format string `toml:"format"` // "text" or "json"
	Level  string `toml:"level"`  // "debug", "info", "warn", "error"
}

// AMQP configures the second outlet of the journal: every event, in
// fedora-messaging's wire format, to a RabbitMQ exchange (docs/amqp.md).
// The TLS key names are fedora-messaging's ([tls] ca_cert, certfile,
// keyfile).
type AMQP struct {
	Enabled bool `toml:"enabled"`
	// URL is amqp://user:password@host:port/vhost or amqps://…; with
	// CertFile and KeyFile the user comes from the client certificate
	// (SASL EXTERNAL) and the URL names none.
	URL      string `toml:"url"`
	Exchange string `toml:"exchange"`
	// CACert verifies the broker's certificate (amqps); empty means the
	// system's roots.
	CACert   string `toml:"ca_cert"`
	CertFile string `toml:"certfile"`
	KeyFile  string `toml:"keyfile"`
	// Start says where an outlet that has no watermark yet begins: "end"
	// (what is journaled from then on) or "beginning" (the whole journal).
	Start string `toml:"start"`
}

// Duration is a time.Duration written as "30s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string ("36h", "90m"), or a whole
// number of days ("400d"), which retention periods are counted in.
func (d *Duration) UnmarshalText(b []byte) error {
	if days, ok := strings.CutSuffix(string(b), "d"); ok {
		n, err := strconv.ParseUint(days, 10, 31)
		if err != nil || n > 100*366 {
			return fmt.Errorf("duration %q: want whole days (\"400d\") or a Go duration (\"36h\")", b)
		}
		d.Duration = time.Duration(n) * 24 * time.Hour
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultStateDir is /var/lib/mailgw for root, else
// $XDG_STATE_HOME/mailgw (~/.local/state/mailgw).
func DefaultStateDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/mailgw"
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "mailgw")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "mailgw")
	}
	return filepath.Join(home, ".local", "state", "mailgw")
}

// Defaults returns the configuration used when no file is given.
func Defaults() *Config {
	user := os.Getenv("USER")
	if user == "" {
		user = "mailgw"
	}
	return &Config{
		TopicPrefix:       "org.debian",
		Environment:       "dev",
		Name:              "mailgw",
		Username:          user,
		StateDir:          DefaultStateDir(),
		SpoolMinFreeBytes: 64 << 20,
		Endpoints:         map[string][]string{"mailgw": {"tcp://127.0.0.1:9940"}},
		ReplayEndpoints:   map[string]string{"mailgw": "tcp://127.0.0.1:9941"},
		HighWaterMark:     10000,
		// A burst of a commit batch (tens of envelopes of a few KiB)
		// fits. Worst case 1,024 × (1 MiB + 32 KiB): every subscriber
		// stuck, each on different messages; subscribers stuck
		// together share their messages' bytes (1,000 of them: 91 MiB
		// of RSS in TestHostileBusMemory).
		SubscriberQueueBytes: 1 << 20,
		MaxSubscribers:       1024,
		// A subscriber that reads slower than a burst of mail arrives
		// is waited for rather than dropped from (a journal
		// transaction under load can publish more than a MiB at once).
		SubscriberStallTimeout: Duration{2 * time.Second},
		SubscriberMaxWait:      Duration{10 * time.Second},
		ReplayMaxReply:         1000,
		// A fedmsg client holds its REQ socket open between queries;
		// tail opens one per query.
		ReplayIdleTimeout:          Duration{60 * time.Second},
		ReplayMaxClients:           256,
		ReplayMaxClientsPerAddress: 32,
		SignMessages:               true,
		CompatDebmessenger:         true,
		MaxBodyBytes:               64 << 10,
		SMTP: SMTP{
			Listen:          "127.0.0.1:2525",
			Domain:          "localhost",
			AllowedNetworks: []string{"127.0.0.0/8", "::1/128"},
			MaxMessageBytes: 32 << 20,
			MaxConnections:  100,
			// Off: the usual client is the local MTA alone, on one
			// address, and may use every slot (postfix's smtp client
			// opens up to 20 per destination, smtp-source 50).
			MaxConnectionsPerAddress: 0,
			MaxRecipients:            100,
			ReadTimeout:              Duration{60 * time.Second},
			// postfix's smtpd_timeout for a command; RFC 5321
			// 4.5.3.2.6's 10 minutes for the whole DATA.
			CommandTimeout: Duration{5 * time.Minute},
			DataTimeout:    Duration{10 * time.Minute},
			WriteTimeout:   Duration{60 * time.Second},
		},
		// No policy: everything is published untrusted (docs/trust.md).
		Trust: Trust{
			DKIM:          true,
			DNSTimeout:    Duration{5 * time.Second},
			MaxSignatures: 8,
			KeyCacheTTL:   Duration{time.Hour},
			KeyCacheSize:  1024,
			RetryMin:      Duration{30 * time.Second},
			RetryMax:      Duration{30 * time.Minute},
			Dak:           Policy{Action: ActionPublish},
			Debbugs:       Policy{Action: ActionPublish},
			PTS:           Policy{Action: ActionPublish},
			Tracker:       Policy{Action: ActionPublish},
		},
		Metrics: Metrics{Listen: "127.0.0.1:9942", MaxSpoolAge: Duration{15 * time.Minute}},
		Web: Web{
			MaxStreams:         1000,
			MaxScan:            200000,
			MaxBodies:          20000,
			StreamWriteTimeout: Duration{30 * time.Second},
		},
		Log: Log{Format: "text", Level: "info"},
		// fedora-messaging's publish_exchange; a new outlet does not
		// flood a broker with a journal's whole past.
		AMQP: AMQP{Exchange: "amq.topic", Start: "end"},
	}
}

// Load reads path over the defaults ("" means defaults only) and fills the
// paths derived from StateDir. Unknown keys are an error that names them.
func Load(path string) (*Config, error) {
	c := Defaults()
	if path != "" {
		md, err := toml.DecodeFile(path, c)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return nil, fmt.Errorf("config %s: unknown key %q", path, und[0].String())
		}
	}
	c.fill()
	if err := c.Check(); err != nil {
		if path == "" {
			return nil, err
		}
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

func (c *Config) fill() {
	if c.SpoolDir == "" {
		c.SpoolDir = filepath.Join(c.StateDir, "spool")
	}
	if c.QuarantineDir == "" {
		c.QuarantineDir = filepath.Join(c.StateDir, "quarantine")
	}
	if c.Journal == "" {
		c.Journal = filepath.Join(c.StateDir, "journal.sqlite")
	}
}

// DevKeyPath is where serve generates a development signing key when no
// gpg_signing_key is configured.
func (c *Config) DevKeyPath() string {
	return filepath.Join(c.StateDir, "keys", "dev-signing.asc")
}

// Check validates values that TOML types alone do not.
func (c *Config) Check() error {
	var errs []error
	if c.TopicPrefix == "" {
		errs = append(errs, errors.New("topic_prefix is empty"))
	}
	if !slices.Contains(Environments, c.Environment) {
		errs = append(errs, fmt.Errorf("environment %q: want one of %s", c.Environment, strings.Join(Environments, ", ")))
	}
	if c.HighWaterMark <= 0 {
		errs = append(errs, errors.New("high_water_mark must be positive (0 would mean unbounded memory)"))
	}
	if c.SubscriberQueueBytes <= 0 {
		errs = append(errs, errors.New("subscriber_queue_bytes must be positive (0 would mean unbounded memory)"))
	}
	if c.MaxSubscribers <= 0 {
		errs = append(errs, errors.New("max_subscribers must be positive (0 would mean unbounded memory)"))
	}
	if c.SubscriberStallTimeout.Duration < 0 || c.SubscriberMaxWait.Duration < 0 {
		errs = append(errs, errors.New("subscriber_stall_timeout and subscriber_max_wait must not be negative"))
	}
	if c.SubscriberStallTimeout.Duration > 0 && c.SubscriberMaxWait.Duration <= 0 {
		errs = append(errs, errors.New("subscriber_max_wait must be positive when subscriber_stall_timeout is (or set subscriber_stall_timeout = \"0s\" to never wait)"))
	}
	if c.ReplayMaxClients <= 0 {
		errs = append(errs, errors.New("replay_max_clients must be positive"))
	}
	if c.ReplayMaxReply <= 0 {
		errs = append(errs, errors.New("replay_max_reply must be positive"))
	}
	if c.SMTP.MaxMessageBytes <= 0 {
		errs = append(errs, errors.New("smtp.max_message_bytes must be positive"))
	}
	if (c.SMTP.TLSCert == "") != (c.SMTP.TLSKey == "") {
		errs = append(errs, errors.New("smtp.tls_cert and smtp.tls_key must be set together"))
	}
	errs = append(errs, c.AMQP.check()...)
	errs = append(errs, c.Trust.check()...)
	if c.Retention.Duration < 0 || c.DedupRetention.Duration < 0 {
		errs = append(errs, errors.New("retention and dedup_retention must not be negative (0 keeps everything)"))
	}
	if c.DedupRetention.Duration > 0 && (c.Retention.Duration == 0 || c.DedupRetention.Duration < c.Retention.Duration) {
		errs = append(errs, fmt.Errorf("dedup_retention %v is shorter than retention %v: a mail redelivered after its "+
			"dedup key is pruned is published again, so keep keys at least as long as bodies", c.DedupRetention, c.Retention))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("log.format %q: want text or json", c.Log.Format))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Log.Level)); err != nil {
		errs = append(errs, fmt.Errorf("log.level %q: want debug, info, warn or error", c.Log.Level))
	}
	if c.Web.MaxStreams <= 0 || c.Web.MaxScan <= 0 || c.Web.MaxBodies <= 0 {
		errs = append(errs, errors.New("web.max_streams, web.max_scan and web.max_bodies must be positive"))
	}
	if c.Web.StreamWriteTimeout.Duration <= 0 {
		errs = append(errs, errors.New("web.stream_write_timeout must be positive"))
	}
	for _, l := range []struct{ key, addr string }{
		{"smtp.listen", c.SMTP.Listen}, {"smtp.lmtp_listen", c.SMTP.LMTPListen}, {"metrics.listen", c.Metrics.Listen},
		{"web.listen", c.Web.Listen},
	} {
		if l.addr != "" {
			if err := checkHostPort(l.addr); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %v", l.key, l.addr, err))
			}
		}
	}
	for name, eps := range c.Endpoints {
		for _, ep := range eps {
			if err := CheckEndpoint(ep); err != nil {
				errs = append(errs, fmt.Errorf("endpoints.%s: %v", name, err))
			}
		}
	}
	for name, ep := range c.ReplayEndpoints {
		if err := CheckEndpoint(ep); err != nil {
			errs = append(errs, fmt.Errorf("replay_endpoints.%s: %v", name, err))
		}
	}
	return errors.Join(errs...)
}

// CheckSecretFile refuses a secret file (the signing key, its
// passphrase) that group or others may read or write, or that sits in a
// directory others may write (they could replace it); the error says how
// to fix it. key names the config key in the message.
func CheckSecretFile(key, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%s %s is open to group or others (mode %04o); make it readable by mailgw's user only: chmod 600 %s",
			key, path, perm, path)
	}
	dir := filepath.Dir(path)
	di, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	if perm := di.Mode().Perm(); perm&0o002 != 0 {
		return fmt.Errorf("%s %s is in %s, which others may write (mode %04o) and so replace the key; move it, or: chmod o-w %s",
			key, path, dir, perm, dir)
	}
	return nil
}

// Environments are the values environment may take: fedmsg's three.
var Environments = []string{"dev", "stg", "prod"}

// CheckEndpoint checks the form of a ZeroMQ endpoint: tcp://HOST:PORT
// (HOST "*" for every interface) or ipc://PATH.
func CheckEndpoint(ep string) error {
	if rest, ok := strings.CutPrefix(ep, "tcp://"); ok {
		if err := checkHostPort(rest); err != nil {
			return fmt.Errorf("%q: %v", ep, err)
		}
		return nil
	}
	if p, ok := strings.CutPrefix(ep, "ipc://"); ok && p != "" {
		return nil
	}
	return fmt.Errorf("%q: want tcp://host:port or ipc://path", ep)
}

// checkHostPort checks HOST:PORT with a numeric port from 0 to 65535 (net
// alone accepts any port string until the bind).
func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q: want a number from 0 to 65535", port)
	}
	return nil
}

// check validates the [amqp] table; only an enabled one needs a URL.
func (a *AMQP) check() []error {
	var errs []error
	if a.Enabled && a.URL == "" {
		errs = append(errs, errors.New("amqp.url is empty but amqp.enabled is true"))
	}
	if a.URL != "" {
		u, err := url.Parse(a.URL)
		switch {
		case err != nil:
			// url's error repeats the URL, password included.
			errs = append(errs, errors.New("amqp.url is not a URL"))
		case u.Scheme != "amqp" && u.Scheme != "amqps":
			errs = append(errs, fmt.Errorf("amqp.url: scheme %q, want amqp or amqps", u.Scheme))
		case u.Scheme == "amqp" && (a.CACert != "" || a.CertFile != "" || a.KeyFile != ""):
			errs = append(errs, errors.New("amqp.ca_cert, certfile and keyfile need an amqps:// url"))
		}
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		errs = append(errs, errors.New("amqp.certfile and amqp.keyfile must be set together"))
	}
	switch {
	case a.Exchange == "":
		errs = append(errs, errors.New("amqp.exchange is empty (the default exchange routes by queue name, not by topic)"))
	case len(a.Exchange) > 255:
		errs = append(errs, errors.New("amqp.exchange is longer than 255 bytes"))
	}
	if a.Start != "end" && a.Start != "beginning" {
		errs = append(errs, fmt.Errorf("amqp.start %q: want end or beginning", a.Start))
	}
	return errs
}

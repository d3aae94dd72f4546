package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/sdnotify"
)

// Reload (SIGHUP, systemctl reload): serve reads its config file again
// and swaps in the parts that can change under a running daemon; the
// listeners, the journal, the bus and the signing key stay as they are.
// Each such part is a reloadable: the config keys and the files it reads,
// and how to apply a new config. A reload applies the reloadables whose
// keys or files changed and logs what changed; changed keys no
// reloadable covers are logged as waiting for a restart. A config that
// does not load is logged and the running one kept.

// reloadable is one part of serve that a reload can replace.
type reloadable struct {
	name string
	// keys are the config keys it reads ("upload_keyrings",
	// "smtp.listen"; "trust." stands for every key of the table);
	// files returns the files it reads, whose contents are compared
	// too.
	keys  []string
	files func(*config.Config) []string
	apply func(*config.Config) error
}

// reloadables lists what a reload can swap. A new part of serve that can
// change under a running daemon adds its entry here (docs/HACKING.md).
func (d *daemon) reloadables() []reloadable {
	return []reloadable{{
		// Upload signatures are checked against the keyrings: a
		// debian-keyring update takes effect with a reload.
		name:  "parsers",
		keys:  []string{"upload_keyrings", "compat_debmessenger", "max_body_bytes"},
		files: func(c *config.Config) []string { return c.UploadKeyrings },
		apply: func(c *config.Config) error {
			cls, err := newClassifier(c)
			if err == nil {
				d.pipe.SetClassifier(cls)
				d.cls.Store(cls)
			}
			return err
		},
	}, {
		// How long the journal keeps bodies and keys: applied by a
		// prune at once.
		name:  "retention",
		keys:  []string{"retention", "dedup_retention"},
		files: func(*config.Config) []string { return nil },
		apply: func(c *config.Config) error { d.prune.set(c); return nil },
	}, {
		// The trust policy ([trust], docs/trust.md): relays, DKIM
		// domains, senders and actions per service.
		name:  "trust",
		keys:  []string{"trust."},
		files: func(*config.Config) []string { return nil },
		apply: func(c *config.Config) error {
			v, err := newVerifier(c)
			if err == nil {
				d.pipe.SetVerifier(v)
				d.ver.Store(v)
			}
			return err
		},
	}, {
		// A broker's new password, CA or address takes effect without
		// a restart; the new outlet goes on from the old one's
		// watermark (or is dropped when [amqp] is turned off).
		name: "amqp",
		keys: []string{"amqp.enabled", "amqp.url", "amqp.exchange", "amqp.ca_cert", "amqp.certfile", "amqp.keyfile", "amqp.start"},
		files: func(c *config.Config) []string {
			var fs []string
			for _, f := range []string{c.AMQP.CACert, c.AMQP.CertFile, c.AMQP.KeyFile} {
				if f != "" {
					fs = append(fs, f)
				}
			}
			return fs
		},
		apply: func(c *config.Config) error {
			// Made first: a config that does not work keeps the running
			// outlet.
			next, err := newAMQP(c, d.journal, d.log, d.m)
			if err != nil {
				return err
			}
			d.amqp.stop()
			d.amqp = next
			if next == nil {
				return forgetAMQP(d.journal, d.log)
			}
			next.start()
			return nil
		},
	}}
}

// covers reports whether the config key k is one of r's keys.
func (r *reloadable) covers(k string) bool {
	for _, key := range r.keys {
		if k == key || (strings.HasSuffix(key, ".") && strings.HasPrefix(k, key)) {
			return true
		}
	}
	return false
}

// unusedByServe are keys serve does not read at all (tail and verify do,
// each time they start); a change is logged as such.
var unusedByServe = []string{"keyrings", "routing_policy", "routing_nitpicky", "srv_endpoints"}

// reloadState is what the last successful load or reload read: the
// config and the digests of the files the reloadables read.
type reloadState struct {
	cfg   *config.Config
	files map[string][32]byte
}

// digests reads the files the reloadables read under cfg; a file that
// cannot be read gets the zero digest (applying then reports the error).
func (d *daemon) digests(cfg *config.Config) map[string][32]byte {
	out := map[string][32]byte{}
	for _, r := range d.reloadables() {
		for _, f := range r.files(cfg) {
			if b, err := os.ReadFile(f); err == nil {
				out[f] = sha256.Sum256(b)
			} else {
				out[f] = [32]byte{}
			}
		}
	}
	return out
}

// reload re-reads the config file at path and applies it.
func (d *daemon) reload(path string) {
	sdnotify.Notify(sdnotify.Reloading, sdnotify.Status("reloading "+path))
	defer func() { sdnotify.Notify(sdnotify.Ready, sdnotify.Status(statusLine(d))) }()
	cfg, err := loadConfig(path)
	if err != nil {
		d.log.Error("reload failed: keeping the running configuration", "config", path, "err", err)
		return
	}
	changed := configDiff(d.applied.cfg, cfg)
	files := d.digests(cfg)
	var applied, failed, restart, unused []string
	rs := d.reloadables()
	for _, r := range rs {
		do := slices.ContainsFunc(changed, r.covers)
		for _, f := range r.files(cfg) {
			do = do || files[f] != d.applied.files[f]
		}
		if !do {
			continue
		}
		if err := r.apply(cfg); err != nil {
			d.log.Error("reload: keeping the running "+r.name, "err", err)
			failed = append(failed, r.name)
			continue
		}
		applied = append(applied, r.name)
	}
	// Keys serve reads only at start are compared with what it started
	// with, so that every reload says what still waits for a restart.
	for _, k := range configDiff(d.cfg, cfg) {
		switch {
		case slices.ContainsFunc(rs, func(r reloadable) bool { return r.covers(k) }):
		case slices.Contains(unusedByServe, k):
			unused = append(unused, k)
		default:
			restart = append(restart, k)
		}
	}
	if len(failed) == 0 {
		d.applied = reloadState{cfg: cfg, files: files}
	}
	d.log.Info("reloaded", "config", path, "changed", strings.Join(changed, " "), "applied", strings.Join(applied, " "),
		"failed", strings.Join(failed, " "))
	if len(restart) > 0 {
		d.log.Warn("reload: these keys take effect at the next restart", "keys", strings.Join(restart, " "))
	}
	if len(unused) > 0 {
		d.log.Info("reload: these keys are read by tail and verify, not by serve", "keys", strings.Join(unused, " "))
	}
}

// configDiff returns the keys ("name", "table.name") whose values differ
// between a and b, in declaration order.
func configDiff(a, b *config.Config) []string {
	var out []string
	var walk func(prefix string, x, y reflect.Value)
	walk = func(prefix string, x, y reflect.Value) {
		t := x.Type()
		for i := range t.NumField() {
			key, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
			if key == "" || key == "-" {
				continue
			}
			fx, fy := x.Field(i), y.Field(i)
			if t.Field(i).Type.Kind() == reflect.Struct && t.Field(i).Type != reflect.TypeOf(config.Duration{}) {
				walk(prefix+key+".", fx, fy)
				continue
			}
			if !reflect.DeepEqual(fx.Interface(), fy.Interface()) {
				out = append(out, prefix+key)
			}
		}
	}
	walk("", reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem())
	return out
}

// statusLine is the STATUS= text systemctl status shows while serving.
func statusLine(d *daemon) string {
	return fmt.Sprintf("serving: journal %s, bus %s", d.cfg.Journal, strings.Join(d.pub.Addrs(), " "))
}

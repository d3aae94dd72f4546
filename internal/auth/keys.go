package auth

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/debian/mailgw/internal/dnsq"
	"github.com/miekg/dns"
)

// Resolver looks up the TXT records of a name: the records (the strings of
// each joined), the TTL to cache the answer for, and an error that is
// temporary (dnsq.IsTemporary) when asking again later may succeed.
// *dnsq.Client is the real one.
type Resolver interface {
	TXT(ctx context.Context, name string) ([]string, time.Duration, error)
}

// Bounds on how long key answers are cached, beside key_cache_ttl.
const (
	// minKeyTTL keeps a key with a tiny TTL from being asked for every
	// mail.
	minKeyTTL = time.Minute
	// defaultNegTTL is used for a missing key when the reply carries no
	// SOA to take the negative TTL from.
	defaultNegTTL = 5 * time.Minute
	// maxTempTTL bounds how long a temporary failure is remembered.
	maxTempTTL = 30 * time.Second
)

// keyCache looks DKIM keys up through a Resolver and keeps the answers,
// positive and negative, for their TTL (capped by maxTTL), at most size
// of them. A temporary failure is remembered for tempTTL, so that a DNS
// server that is down is not asked, and waited for, once per mail.
type keyCache struct {
	r       Resolver
	timeout time.Duration
	maxTTL  time.Duration
	tempTTL time.Duration
	size    int
	now     func() time.Time

	mu sync.Mutex
	m  map[string]keyEntry
}

type keyEntry struct {
	// err is the lookup's error, a *net.DNSError, temporary or not.
	err   error
	until time.Time
	// key is the record parsed (parseKeyRecords), once, when it was cached.
	key *pubKey
	// keyErr is why the answer gives no usable key (key is then nil).
	keyErr *keyError
}

// keyError is why a signature's key could not be had: temporary (the
// lookup may succeed later) or not.
type keyError struct {
	temp bool
	msg  string
}

// key returns the parsed key of selector in domain, looked up through
// the cache (entry); the record is parsed once per lookup, not per
// mail.
func (c *keyCache) key(domain, selector string) (*pubKey, *keyError) {
	e := c.entry(selector + "._domainkey." + domain)
	return e.key, e.keyErr
}

// entry returns the cache's entry for the key record name, looking it up
// when it is missing or expired.
func (c *keyCache) entry(name string) keyEntry {
	key := strings.ToLower(name)
	now := c.now()
	c.mu.Lock()
	e, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e
	}
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 253 {
		err := &net.DNSError{Err: "not a domain name", Name: name, IsNotFound: true}
		return keyEntry{err: err, keyErr: &keyError{msg: "no key for signature: " + err.Error()}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	txts, ttl, err := c.r.TXT(ctx, name)
	cancel()
	e = keyEntry{}
	switch {
	case err == nil && len(txts) == 0:
		e.err = &net.DNSError{Err: "no key record", Name: name, IsNotFound: true}
		ttl = negTTL(ttl)
	case err == nil:
		ttl = max(ttl, minKeyTTL)
	case dnsq.IsTemporary(err):
		e.err = &net.DNSError{Err: err.Error(), Name: name, IsTemporary: true}
		ttl = c.tempTTL
	default:
		e.err = &net.DNSError{Err: err.Error(), Name: name, IsNotFound: true}
		ttl = negTTL(ttl)
	}
	e.until = now.Add(min(ttl, c.maxTTL))
	switch {
	case e.err != nil && dnsTemporary(e.err):
		e.keyErr = &keyError{temp: true, msg: "key unavailable: " + e.err.Error()}
	case e.err != nil:
		e.keyErr = &keyError{msg: "no key for signature: " + e.err.Error()}
	default:
		e.key, e.keyErr = parseKeyRecords(txts)
	}
	c.mu.Lock()
	c.put(key, e, now)
	c.mu.Unlock()
	return e
}

func dnsTemporary(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsTemporary
}

func negTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return defaultNegTTL
	}
	return max(ttl, minKeyTTL)
}

// put stores e under key, making room first: expired entries go, then
// arbitrary ones (the map's order) until there is room.
func (c *keyCache) put(key string, e keyEntry, now time.Time) {
	if _, ok := c.m[key]; !ok && len(c.m) >= c.size {
		for k, old := range c.m {
			if !now.Before(old.until) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < c.size {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = e
}

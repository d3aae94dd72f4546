package journal

import (
	"context"
	"database/sql"
	"fmt"
	"hash/crc32"

	"github.com/debian/mailgw/bus"
)

// Add journals envs in one transaction. Each envelope whose msg_id is not
// journaled yet (nor earlier in envs), nor its LegacyMsgID (legacy.go),
// nor its ProvenMsgID (journaled, or earlier in envs: proven.go), gets
// the next seq_id, set in env.SeqID, and is stored with its canonical
// body as unpublished; the others are duplicates and are skipped. Add
// returns the added envelopes in seq_id order. On error nothing is
// stored and no SeqID is changed.
func (j *Journal) Add(envs []*bus.Envelope) ([]*bus.Envelope, error) {
	return j.AddMarking(envs, nil)
}

// AddMarking is Add that also marks the envelopes with the seq_ids
// published as published (see MarkPublished), in the same transaction:
// a publisher that runs beside the one goroutine adding hands its marks
// to that goroutine, and never waits for the journal's lock while an Add
// holds it through its fsyncs. If the transaction fails, the marks are
// not recorded either.
func (j *Journal) AddMarking(envs []*bus.Envelope, published []int64) ([]*bus.Envelope, error) {
	if len(envs) == 0 {
		return nil, j.MarkPublished(published...)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	tx, err := j.w.BeginTx(context.Background(), nil)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer tx.Rollback()
	var last, end, proven int64
	err = tx.QueryRow(`SELECT COALESCE(MAX(seq_id), 0), (SELECT size FROM bodies_end WHERE id = 1), (`+provenQuery+`) FROM envelopes`).Scan(&last, &end, &proven)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j.proven.Store(proven)
	ins, err := j.st.stmt(tx, stInsert)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var added []*bus.Envelope
	seqs := make([]int64, 0, len(envs))
	inBatch := make(map[string]bool, len(envs))
	// The batch's bodies, each followed by a newline, go to the bodies
	// file at end in one write before the commit.
	buf := j.buf[:0]
	defer func() {
		if cap(buf) <= maxKeptBuf {
			j.buf = buf[:0]
		}
	}()
	ix := j.newIndexer(tx)
	others, err := j.newDupCheck(tx, proven)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	var nProven int64
	for _, env := range envs {
		if inBatch[env.MsgID] || (env.ProvenMsgID != "" && inBatch[env.ProvenMsgID]) {
			continue
		}
		if dup, err := others.dup(env); dup || err != nil {
			if err != nil {
				return nil, fmt.Errorf("journal: %w", err)
			}
			continue
		}
		seq := last + int64(len(added)) + 1
		pos := len(buf)
		buf, err = appendWithSeq(buf, env, seq)
		if err != nil {
			return nil, fmt.Errorf("journal: envelope %s: %w", env.MsgID, err)
		}
		n := len(buf) - pos
		crc := crc32.Checksum(buf[pos:], castagnoli)
		buf = append(buf, '\n')
		pkgs := EventPackages(env.Msg)
		tid, err := ix.topicID(env.Topic)
		if err != nil {
			return nil, fmt.Errorf("journal: index: %w", err)
		}
		ok, err := insert(tx, ins, env, seq, end+int64(pos), n, crc, tid, packagesColumn(pkgs))
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if !ok {
			buf = buf[:pos]
			continue // duplicate: the seq_id stays free for the next one
		}
		ix.add(tid, env.Timestamp)
		inBatch[env.MsgID] = true
		if env.Proven {
			nProven++
		}
		added = append(added, env)
		seqs = append(seqs, seq)
	}
	if len(buf) > 0 {
		if _, err := tx.Exec(`UPDATE bodies_end SET size = ? WHERE id = 1`, end+int64(len(buf))); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if err := j.bfile.write(end, buf); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	if err := ix.flush(); err != nil {
		return nil, fmt.Errorf("journal: index: %w", err)
	}
	if nProven > 0 {
		if err := j.countProven(tx, nProven); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	if len(published) > 0 {
		if err := markTx(tx, published); err != nil {
			return nil, fmt.Errorf("journal: mark published: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	ix.commit()
	j.proven.Store(proven + nProven)
	for i, env := range added {
		env.SeqID = seqs[i]
	}
	if len(added) > 0 {
		j.signalAdded()
	}
	return added, nil
}

// insert stores env's row with seq_id seq and its body's place, on the
// first free key of its msg_id's probe chain; it returns false, storing
// nothing, when the msg_id is journaled already.
func insert(tx *sql.Tx, ins *sql.Stmt, env *bus.Envelope, seq, at int64, n int, crc uint32, topicID int64, pkgs any) (bool, error) {
	key := msgKey(env.MsgID)
	for range maxProbes {
		res, err := ins.Exec(seq, env.MsgID, key, env.Topic, env.Timestamp, at, n, crc, topicID, pkgs)
		if err != nil {
			return false, err
		}
		if k, err := res.RowsAffected(); err != nil || k == 1 {
			return err == nil, err
		}
		var other string
		var otherSeq int64
		if err := tx.QueryRow(keyQuery, key).Scan(&otherSeq, &other); err != nil {
			return false, err
		}
		if other == env.MsgID {
			return false, nil
		}
		key++ // another msg_id on this key: the next one in the chain
	}
	return false, fmt.Errorf("msg_id %s: %d rows on the keys from its own on", env.MsgID, maxProbes)
}

// maxKeptBuf bounds the bodies buffer Add keeps for the next call.
const maxKeptBuf = 16 << 20

// appendWithSeq appends env's canonical body with seq_id set to dst,
// leaving env untouched.
func appendWithSeq(dst []byte, env *bus.Envelope, seq int64) ([]byte, error) {
	c := *env
	c.SeqID = seq
	return c.AppendMarshal(dst)
}

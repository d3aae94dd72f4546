package journal

import "fmt"

// HourCount is how many envelopes of a topic the journal has with
// timestamps in one hour (Unix time / 3600, UTC).
type HourCount struct {
	Topic string
	Hour  int64
	N     int64
}

// Hours returns the per-hour counts of every topic for the hours from lo
// to hi (Unix time / 3600), by topic and hour; hours without envelopes
// are left out. It reads the index's counts (index.go), never the rows.
func (j *Journal) Hours(lo, hi int64) ([]HourCount, error) {
	ts, err := j.topicRows()
	if err != nil || len(ts) == 0 {
		return nil, err
	}
	ids := make([]int64, len(ts))
	names := make(map[int64]string, len(ts))
	for i, t := range ts {
		ids[i], names[t.id] = t.id, t.topic
	}
	in, args := idList(ids)
	rows, err := j.db.Query(`SELECT topic_id, hour, n FROM topic_hours WHERE topic_id IN `+in+` AND hour BETWEEN ? AND ? AND n > 0`,
		append(args, lo, hi)...)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var out []HourCount
	for rows.Next() {
		var id int64
		var c HourCount
		if err := rows.Scan(&id, &c.Hour, &c.N); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		c.Topic = names[id]
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

package pipeline

import (
	"context"

	"github.com/debian/mailgw/internal/spool"
)

// Process runs one mail through the pipeline without a spool: prepare,
// then journal and publish through the engine. An error means the mail's
// events are not journaled (journal or signing key unavailable); a mail
// that yields no event is a Result with Quarantine set.
func (p *Pipeline) Process(ctx context.Context, raw []byte, replayed bool) (Result, error) {
	res, err := p.ProcessBatch(ctx, [][]byte{raw}, replayed)
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// ProcessBatch is Process for many mails, all their envelopes journaled
// in one transaction; results are in the order of raws; on error nothing
// of the batch is journaled.
func (p *Pipeline) ProcessBatch(ctx context.Context, raws [][]byte, replayed bool) ([]Result, error) {
	prs := make([]*prepared, len(raws))
	var commit []*prepared
	for i, raw := range raws {
		pr, err := p.prepare(raw, spool.Origin{Replayed: replayed})
		if err != nil {
			return nil, err
		}
		prs[i] = pr
		if pr.res.Quarantine == "" && pr.res.Held == "" {
			commit = append(commit, pr)
		}
	}
	if len(commit) > 0 {
		if err := p.commit(ctx, commit); err != nil {
			return nil, err
		}
	}
	out := make([]Result, len(prs))
	for i, pr := range prs {
		out[i] = pr.res
	}
	return out, nil
}

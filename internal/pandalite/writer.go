package pandalite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrClosed is returned by a Store used after Close.
var ErrClosed = errors.New("pandalite: store closed")

// maxBatch bounds the number of writes committed together.
const maxBatch = 256

// writeFunc is one unit of work of the write path. It runs inside the
// write transaction, on the writer connection c, and must use ctx (the
// write path's, not the caller's: an interrupted statement would roll back
// the whole batch). It uses the prepared statements of the Store (bound to
// c) or c itself, and must close any Rows it opens.
type writeFunc func(ctx context.Context, c *sql.Conn) error

// writeOp is a writeFunc waiting for the writer, with its caller's
// context and the channel its outcome is sent on.
type writeOp struct {
	ctx  context.Context
	fn   writeFunc
	done chan error
}

// withTx runs fn on the write path: all writes of a Store go through one
// goroutine and one database connection, so they never wait for each
// other inside SQLite (no busy-wait sleeps). The writes queued at the same
// moment are committed together in one transaction (group commit); if one
// of them fails, that transaction is rolled back and each write of it runs
// again in a transaction of its own, so that one failing write never
// undoes another. withTx returns once the transaction holding fn has
// committed (or failed): a nil error means fn's effects are in the WAL.
// fn may therefore run more than once; only its last run counts, and it
// must set its results afresh on each run.
//
// A write whose ctx ends before the writer reaches it is not run; once
// started it runs to the end whatever happens to ctx.
func (s *Store) withTx(ctx context.Context, fn writeFunc) error {
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.ops <- op:
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("pandalite: %w", context.Cause(ctx))
	}
	return <-op.done
}

// writer is the write path's goroutine: it takes the writes queued, runs
// them in one transaction and reports their outcome, until quit closes.
func (s *Store) writer() {
	defer close(s.writerDone)
	batch := make([]*writeOp, 0, maxBatch)
	for {
		select {
		case op := <-s.ops:
			batch = append(batch[:0], op)
		case <-s.quit:
			return
		}
	more:
		for len(batch) < maxBatch {
			select {
			case op := <-s.ops:
				batch = append(batch, op)
			default:
				break more
			}
		}
		s.runBatch(batch)
		clear(batch)
	}
}

// runBatch runs the writes of batch in one transaction, or each in its
// own when that fails, and sends each its outcome once it is over.
func (s *Store) runBatch(batch []*writeOp) {
	errs := make([]error, len(batch))
	if !s.runTx(batch, errs) && len(batch) > 1 {
		for i := range batch {
			s.runTx(batch[i:i+1], errs[i:i+1])
		}
	}
	for i, op := range batch {
		op.done <- errs[i]
	}
}

// runTx runs ops in one transaction and sets errs (aligned with ops). It
// reports whether the transaction committed; when not, every write that
// had succeeded is marked as failed with the cause.
func (s *Store) runTx(ops []*writeOp, errs []error) bool {
	// Statements of the write path run to their end: an interrupted one
	// would roll back the whole transaction. A context that cannot end also
	// spares the driver a watcher goroutine per statement.
	ctx, c, st := context.Background(), s.wc, s.st
	fail := func(cause error) bool {
		_, _ = st.rollback.ExecContext(ctx)
		for i := range errs {
			if errs[i] == nil {
				errs[i] = cause
			}
		}
		return false
	}
	for i := range errs {
		errs[i] = nil
	}
	if _, err := st.begin.ExecContext(ctx); err != nil {
		return fail(fmt.Errorf("pandalite: begin: %w", err))
	}
	for i, op := range ops {
		if op.ctx.Err() != nil {
			errs[i] = fmt.Errorf("pandalite: %w", context.Cause(op.ctx))
			continue
		}
		if err := op.fn(ctx, c); err != nil {
			errs[i] = err
			return fail(fmt.Errorf("pandalite: rolled back with a failed write beside it: %w", err))
		}
	}
	if _, err := st.commit.ExecContext(ctx); err != nil {
		return fail(fmt.Errorf("pandalite: commit: %w", err))
	}
	return true
}

package gfal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/moverstest"
)

// TestPutInterrupted uploads a regular file through a proxy that stops forwarding the
// upload after 1 MiB: gfal-copy is stopped by the timeout or the cancel, and nothing is
// left on the server.
func TestPutInterrupted(t *testing.T) {
	g := needGfal(t)
	x := gridtest.StartXrootd(t)
	for _, r := range []remote{rootRemote(x), httpRemote(x, x.HTTPURL)} {
		t.Run(r.scheme, func(t *testing.T) {
			for _, mode := range []string{"timeout", "cancel"} {
				t.Run(mode, func(t *testing.T) {
					p := gridtest.StartUploadStallProxy(t, r.Addr, movers.ChunkSize)
					name := r.scheme + mode + ".dat"
					src := filepath.Join(t.TempDir(), name)
					if err := os.WriteFile(src, moverstest.Data(16*movers.ChunkSize), 0o644); err != nil {
						t.Fatal(err)
					}
					direct := r.RemoteURL(t, name)
					via := r.Via(direct, p.Addr)
					ctx, cancel := context.WithCancelCause(t.Context())
					defer cancel(nil)
					tr := movers.Transfer{Source: src, Destination: via}
					want := jobdef.StageOutTimeout
					if mode == "timeout" {
						tr.Timeout = 2 * time.Second
					} else {
						want = jobdef.SigTerm
						go func() {
							select {
							case <-p.Started():
								cancel(jobdef.NewError(jobdef.SigTerm, "test cancel", nil))
							case <-ctx.Done():
							}
						}()
					}
					_, err := g.Put(ctx, tr)
					if me, ok := err.(*movers.Error); !ok || me.Code != want {
						t.Fatalf("Put = %v, want code %d", err, want)
					}
					if b, err := r.ReadRemote(t, direct); err == nil {
						t.Errorf("%d bytes left on the server after an interrupted upload", len(b))
					}
				})
			}
		})
	}
}

package davs_test

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
// upload after 1 MiB: the timeout and a cancel must end the transfer with their codes and
// leave no file on the server (XrdHttp writes in place, nginx into a temporary file).
func TestPutInterrupted(t *testing.T) {
	x := gridtest.StartXrootd(t)
	n := gridtest.StartNginxDAV(t)
	for _, c := range []struct {
		name string
		r    remote
	}{{"xrdhttp", newRemote(x, x.HTTPURL)}, {"nginx", newRemote(n, n.URL)}} {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{"timeout", "cancel"} {
				t.Run(mode, func(t *testing.T) {
					p := gridtest.StartUploadStallProxy(t, c.r.Addr, movers.ChunkSize)
					name := mode + ".dat"
					src := filepath.Join(t.TempDir(), name)
					if err := os.WriteFile(src, moverstest.Data(8*movers.ChunkSize), 0o644); err != nil {
						t.Fatal(err)
					}
					direct := c.r.RemoteURL(t, name)
					via := c.r.Via(direct, p.Addr)
					ctx, cancel := context.WithCancelCause(t.Context())
					defer cancel(nil)
					tr := movers.Transfer{Source: src, Destination: via}
					want := jobdef.StageOutTimeout
					if mode == "timeout" {
						tr.Timeout = 300 * time.Millisecond
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
					_, err := plain().Put(ctx, tr)
					wantCode(t, err, want)
					if b, err := c.r.ReadRemote(t, direct); err == nil {
						t.Errorf("%d bytes left on the server after an interrupted upload", len(b))
					}
					if st := c.r.Stray(t, direct); len(st) > 0 {
						t.Errorf("stray files: %v", st)
					}
				})
			}
		})
	}
}

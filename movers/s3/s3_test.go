package s3_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopilot/gopilot/internal/gridtest"
	"github.com/gopilot/gopilot/jobdef"
	"github.com/gopilot/gopilot/movers"
	"github.com/gopilot/gopilot/movers/internal/remotetest"
	"github.com/gopilot/gopilot/movers/moverstest"
	"github.com/gopilot/gopilot/movers/s3"
)

const bucket = "pilot"

type remote struct {
	remotetest.Remote
	s *gridtest.S3
}

func startServer(t *testing.T) remote {
	t.Helper()
	s := gridtest.StartS3(t)
	if err := s.MakeBucket(bucket); err != nil {
		t.Fatal(err)
	}
	// Pilot 3's SURLs have a double slash between endpoint and bucket.
	return remote{Remote: remotetest.New(s, "s3://"+s.Endpoint+"//"+bucket, bucket+"/"), s: s}
}

func (r remote) mover() *s3.Mover {
	return s3.New(s3.Options{AccessKey: r.s.AccessKey, SecretKey: r.s.SecretKey})
}

// multipart uploads files above 5 MiB in parts of 5 MiB.
func (r remote) multipart() *s3.Mover {
	return s3.New(s3.Options{AccessKey: r.s.AccessKey, SecretKey: r.s.SecretKey, PartSize: 5 << 20, SinglePutLimit: 5 << 20})
}

// stray also lists what an aborted upload may leave in the gateway's temporary area.
func (r remote) stray(t *testing.T, url string) []string {
	out := r.Stray(t, url)
	filepath.WalkDir(filepath.Join(r.s.DataDir, bucket, ".sgwtmp"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func (r remote) env(m movers.Mover) moverstest.Env {
	e := r.Env(m)
	e.Stray = r.stray
	return e
}

func TestConformance(t *testing.T) {
	r := startServer(t)
	moverstest.Run(t, r.env(r.mover()))
}

func TestConformanceMultipart(t *testing.T) {
	r := startServer(t)
	moverstest.Run(t, r.env(r.multipart()))
}

// TestMultipart: a file larger than the part size goes up in parts, the checksum is that
// of the whole file, and an expected adler32 is stored with the object.
func TestMultipart(t *testing.T) {
	r := startServer(t)
	m := r.multipart()
	data := moverstest.Data(12<<20 + 7)
	src := filepath.Join(t.TempDir(), "big.dat")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	url := r.RemoteURL(t, "big.dat")
	res, err := m.Put(t.Context(), movers.Transfer{Source: src, Destination: url, Size: int64(len(data)), Checksum: moverstest.Adler32(data)})
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if res.Bytes != int64(len(data)) || res.Checksum != moverstest.Adler32(data) {
		t.Errorf("Put result %d %v", res.Bytes, res.Checksum)
	}
	if got, err := r.ReadRemote(t, url); err != nil || len(got) != len(data) {
		t.Fatalf("stored object: %d bytes, %v", len(got), err)
	}
	if sum, err := m.RemoteChecksum(t.Context(), url, jobdef.Adler32); err != nil || sum != moverstest.Adler32(data) {
		t.Errorf("RemoteChecksum = %v, %v; want %v", sum, err, moverstest.Adler32(data))
	}
	// Get checks the stored adler32 even without an expectation.
	dst := filepath.Join(t.TempDir(), "big.dat")
	if res, err := m.Get(t.Context(), movers.Transfer{Source: url, Destination: dst}); err != nil || res.Checksum != moverstest.Adler32(data) {
		t.Errorf("Get = %v, %v", res.Checksum, err)
	}
}

func TestRemoteChecksumAndRemove(t *testing.T) {
	r := startServer(t)
	m := r.mover()
	url := r.NewRemote(t, "nometa.dat", moverstest.Data(1000))
	if _, err := m.RemoteChecksum(t.Context(), url, jobdef.Adler32); jobdef.CodeOf(err) != jobdef.ChksumNotSup {
		t.Errorf("RemoteChecksum without metadata: %v, want code 1242", err)
	}
	if _, err := m.RemoteChecksum(t.Context(), url, jobdef.MD5); jobdef.CodeOf(err) != jobdef.ChksumNotSup {
		t.Errorf("md5 RemoteChecksum: %v, want code 1242", err)
	}
	if _, err := m.RemoteChecksum(t.Context(), r.Base+"/in/nothere", jobdef.Adler32); jobdef.CodeOf(err) != jobdef.MissingInputFile {
		t.Errorf("RemoteChecksum of a missing object: %v, want code 1331", err)
	}
	for range 2 { // the second time the object is gone: not an error
		if err := m.Remove(t.Context(), url); err != nil {
			t.Errorf("Remove: %v", err)
		}
	}
	if _, err := r.ReadRemote(t, url); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after Remove: %v", err)
	}
}

// TestCredentials: wrong keys are refused with the authentication codes, missing keys are
// 1364, keys in the transfer's environment and per-endpoint keys are used.
func TestCredentials(t *testing.T) {
	r := startServer(t)
	url := r.NewRemote(t, "cred.dat", moverstest.Data(100))
	dir := t.TempDir()
	src := filepath.Join(dir, "up.dat")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	wrong := s3.New(s3.Options{AccessKey: r.s.AccessKey, SecretKey: "wrong", Getenv: noEnv})
	if _, err := wrong.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "a")}); codeOf(err) != jobdef.StageInAuthenticationFailure {
		t.Errorf("Get with a wrong secret: %v, want 1338", err)
	}
	if _, err := wrong.Put(t.Context(), movers.Transfer{Source: src, Destination: r.RemoteURL(t, "w.dat")}); codeOf(err) != jobdef.StageOutAuthenticationFailure {
		t.Errorf("Put with a wrong secret: %v, want 1383", err)
	}
	none := s3.New(s3.Options{Getenv: noEnv})
	if err := none.Check(t.Context()); err == nil {
		t.Error("Check without keys succeeded")
	}
	if _, err := none.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "b")}); codeOf(err) != jobdef.MissingCredentials {
		t.Errorf("Get without keys: %v, want 1364", err)
	}
	env := []string{"S3_ACCESS_KEY=" + r.s.AccessKey, "S3_SECRET_KEY=" + r.s.SecretKey}
	if _, err := none.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "c"), Env: env}); err != nil {
		t.Errorf("Get with keys in Transfer.Env: %v", err)
	}
	fromEnv := s3.New(s3.Options{Getenv: func(k string) string {
		return map[string]string{"S3_ACCESS_KEY": r.s.AccessKey, "S3_SECRET_KEY": r.s.SecretKey}[k]
	}})
	if err := fromEnv.Check(t.Context()); err != nil {
		t.Errorf("Check with S3_ACCESS_KEY/S3_SECRET_KEY: %v", err)
	}
	if _, err := fromEnv.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "d")}); err != nil {
		t.Errorf("Get with the environment's keys: %v", err)
	}
	perEndpoint := s3.New(s3.Options{AccessKey: "x", SecretKey: "y", Getenv: noEnv,
		Endpoints: map[string]s3.Endpoint{r.s.Endpoint: {AccessKey: r.s.AccessKey, SecretKey: r.s.SecretKey}}})
	if _, err := perEndpoint.Get(t.Context(), movers.Transfer{Source: url, Destination: filepath.Join(dir, "e")}); err != nil {
		t.Errorf("Get with per-endpoint keys: %v", err)
	}
}

func TestMissingBucket(t *testing.T) {
	r := startServer(t)
	m := r.mover()
	src := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(src, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := m.Put(t.Context(), movers.Transfer{Source: src, Destination: r.s.S3URL("nobucket", "k/f")})
	if codeOf(err) != jobdef.NoSuchFile {
		t.Errorf("Put into a missing bucket: %v, want 1103", err)
	}
	_, err = m.Get(t.Context(), movers.Transfer{Source: r.s.S3URL("nobucket", "k/f"), Destination: src + ".get"})
	if codeOf(err) != jobdef.MissingInputFile {
		t.Errorf("Get from a missing bucket: %v, want 1331", err)
	}
}

// TestDeadServer: nothing listens; the error is retryable and not a timeout.
func TestDeadServer(t *testing.T) {
	m := s3.New(s3.Options{AccessKey: "a", SecretKey: "b"})
	ctx, cancel := context.WithTimeout(t.Context(), moverstest.MaxWait)
	defer cancel()
	dir := t.TempDir()
	_, err := m.Get(ctx, movers.Transfer{Source: "s3://" + remotetest.DeadAddr(t) + "/bucket/k", Destination: filepath.Join(dir, "f")})
	var me *movers.Error
	if !errors.As(err, &me) || !me.Retryable || me.Code == jobdef.StageInTimeout {
		t.Fatalf("Get from a dead server = %v, want a retryable error that is not a timeout", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left behind: %v", ents)
	}
}

// TestPutInterrupted: an upload through a proxy that stops forwarding it after 1 MiB ends
// with the timeout or the cancel's code and leaves nothing in the bucket once the
// connection is gone. (Interrupted multipart uploads are aborted: see the conformance
// suite's mid-transfer cases of TestConformanceMultipart, whose FIFO source has no known
// size.)
func TestPutInterrupted(t *testing.T) {
	r := startServer(t)
	for _, c := range []struct {
		mode string
		m    *s3.Mover
	}{{"timeout", r.mover()}, {"cancel", r.mover()}} {
		mode := c.mode
		t.Run(c.mode, func(t *testing.T) {
			p := gridtest.StartUploadStallProxy(t, r.Addr, movers.ChunkSize)
			name := c.mode + ".dat"
			src := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(src, moverstest.Data(16*movers.ChunkSize), 0o644); err != nil {
				t.Fatal(err)
			}
			direct := r.RemoteURL(t, name)
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			tr := movers.Transfer{Source: src, Destination: r.Via(direct, p.Addr)}
			want := jobdef.StageOutTimeout
			if mode == "timeout" {
				tr.Timeout = time.Second
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
			_, err := c.m.Put(ctx, tr)
			if codeOf(err) != want {
				t.Fatalf("Put = %v, want code %d", err, want)
			}
			if b, err := r.ReadRemote(t, direct); err == nil {
				t.Errorf("%d bytes left in the bucket after an interrupted upload", len(b))
			}
			// The gateway keeps a partial upload in a temporary file until its connection
			// ends: the proxy holds that connection open, so close it and wait.
			p.Close()
			deadline := time.Now().Add(moverstest.MaxWait)
			for st := r.stray(t, direct); len(st) > 0; st = r.stray(t, direct) {
				if time.Now().After(deadline) {
					t.Fatalf("stray files: %v", st)
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func codeOf(err error) jobdef.ErrorCode {
	var me *movers.Error
	if errors.As(err, &me) {
		return me.Code
	}
	return jobdef.CodeOf(err)
}

func TestBadURLs(t *testing.T) {
	m := s3.New(s3.Options{AccessKey: "a", SecretKey: "b"})
	dir := t.TempDir()
	for _, u := range []string{"https://h/b/k", "s3://h", "s3://h/bucketonly", "s3:///b/k", "s3://h/b/k?x=1", "s3://h/b/../k"} {
		_, err := m.Get(t.Context(), movers.Transfer{Source: u, Destination: filepath.Join(dir, "x")})
		var me *movers.Error
		if !errors.As(err, &me) || me.Code != jobdef.StageInFailed || me.Retryable {
			t.Errorf("Get(%q) = %v, want a non-retryable 1099", u, err)
		}
	}
	if strings.Contains(dir, "..") {
		t.Fatal(dir)
	}
}

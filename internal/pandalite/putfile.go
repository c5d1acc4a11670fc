package pandalite

import (
	"fmt"
	"hash/adler32"
	"io"
	"net/url"
	"os"
	"path/filepath"

	"github.com/gopilot/gopilot/jobdef"
)

// Placed is a file put into an RSE.
type Placed struct {
	LFN     string
	Size    int64
	Adler32 string // 8 lower-case hex digits
	Path    string // local path of the copy
	SURL    string // file:// URL of the copy
}

// PutFile copies the local file src into the file:// RSE rse described in
// storage (a ddmendpoints.json document) at its deterministic Rucio path
// (jobdef.RucioPath under the endpoint + path of the RSE's first write_lan
// protocol, or read_lan when it has none) and returns where it went with
// its size and adler32. The LFN is src's base name. Existing files are
// replaced atomically (written beside, then renamed).
func PutFile(storage []byte, rse, scope, src string) (Placed, error) {
	var p Placed
	lfn := filepath.Base(src)
	if err := jobdef.ValidateLFN(lfn); err != nil {
		return p, err
	}
	if scope == "" {
		return p, fmt.Errorf("put-file: empty scope")
	}
	sd, err := jobdef.ParseStorageData(storage)
	if err != nil {
		return p, fmt.Errorf("put-file: storage description: %w", err)
	}
	ep, ok := sd[rse]
	if !ok {
		return p, fmt.Errorf("put-file: RSE %q is not in the storage description", rse)
	}
	var surl string
	for _, act := range []string{"write_lan", "read_lan"} {
		if len(ep.ARProtocols[act]) == 0 {
			continue
		}
		if surl, err = ep.SURL(act, scope, lfn); err != nil {
			return p, fmt.Errorf("put-file: %s: %w", rse, err)
		}
		break
	}
	if surl == "" {
		return p, fmt.Errorf("put-file: RSE %q has no write_lan or read_lan protocol", rse)
	}
	u, err := url.Parse(surl)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return p, fmt.Errorf("put-file: RSE %q is not a file:// RSE (%s)", rse, surl)
	}
	p = Placed{LFN: lfn, Path: filepath.FromSlash(u.Path), SURL: surl}

	in, err := os.Open(src)
	if err != nil {
		return p, fmt.Errorf("put-file: %w", err)
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(p.Path), 0o755); err != nil {
		return p, fmt.Errorf("put-file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.Path), "."+lfn+".part-*")
	if err != nil {
		return p, fmt.Errorf("put-file: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	sum := adler32.New()
	n, err := io.Copy(io.MultiWriter(tmp, sum), in)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p.Path)
	}
	if err != nil {
		return p, fmt.Errorf("put-file: copy to %s: %w", p.Path, err)
	}
	p.Size = n
	p.Adler32 = fmt.Sprintf("%08x", sum.Sum32())
	return p, nil
}

package identity

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gopilot/gopilot/credentials"
)

// IsPilotCredentialVar reports whether the environment variable name carries one of the
// pilot's own credentials, which a switched payload never sees.
func IsPilotCredentialVar(name string) bool {
	switch name {
	case "X509_USER_PROXY", "X509_USER_CERT", "X509_USER_KEY", "X509_UNIFIED_DISPATCH",
		"BEARER_TOKEN", "BEARER_TOKEN_FILE", "OIDC_AUTH_TOKEN", "PANDA_AUTH_TOKEN",
		"PANDA_AUTH_TOKEN_KEY", "OIDC_REFRESHED_AUTH_TOKEN":
		return true
	}
	return false
}

// umaskScript sets the payload's umask and execs it in the same process.
const umaskScript = `umask 077 && exec "$@"`

// wrappedScript runs after an identity wrapper: it reads the environment file named by
// $1 (NUL-separated KEY=VALUE entries), deletes it, replaces the environment the wrapper
// left with it, sets the umask and execs the payload (the remaining arguments).
// Its own variables are not exported, so the payload does not see them.
const wrappedScript = `declare +x __gopilot_f="$1" __gopilot_kv __gopilot_v; shift
declare +x -a __gopilot_env=()
exec 3<"$__gopilot_f" || { echo "gopilot: cannot read the payload environment $__gopilot_f" >&2; exit 126; }
while IFS= read -r -d '' -u 3 __gopilot_kv; do __gopilot_env+=("$__gopilot_kv"); done
exec 3<&-
/bin/rm -f -- "$__gopilot_f"
for __gopilot_v in $(compgen -e); do unset -v "$__gopilot_v" 2>/dev/null; done
for __gopilot_kv in "${__gopilot_env[@]}"; do export -- "$__gopilot_kv" 2>/dev/null; done
umask 077
exec "$@"`

// payloadEnv builds the payload environment from base. With id (switching) the pilot's
// credential variables are removed and HOME, USER and LOGNAME set; with proxy,
// X509_USER_PROXY names it. Other entries keep their order.
func payloadEnv(base []string, id *credentials.Identity, proxy string) []string {
	out := make([]string, 0, len(base)+4)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if id != nil && IsPilotCredentialVar(k) {
			continue
		}
		if proxy != "" && k == "X509_USER_PROXY" {
			continue
		}
		out = append(out, kv)
	}
	if id != nil {
		out = id.Env(out)
	}
	if proxy != "" {
		out = append(out, "X509_USER_PROXY="+proxy)
	}
	return out
}

// encodeEnv renders env as NUL-terminated entries, keeping the last entry of each name
// and dropping entries bash could not take back (no '=', empty name, a name starting with
// '-', or a NUL byte).
func encodeEnv(env []string) []byte {
	last := map[string]int{}
	for i, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || k[0] == '-' || strings.IndexByte(kv, 0) >= 0 {
			continue
		}
		last[k] = i
	}
	var b bytes.Buffer
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if j, ok := last[k]; ok && j == i {
			b.WriteString(kv)
			b.WriteByte(0)
		}
	}
	return b.Bytes()
}

// decodeEnv is the inverse of encodeEnv (as the wrapper script reads the file).
func decodeEnv(data []byte) []string {
	var out []string
	for len(data) > 0 {
		i := bytes.IndexByte(data, 0)
		if i < 0 {
			out = append(out, string(data))
			break
		}
		out = append(out, string(data[:i]))
		data = data[i+1:]
	}
	return out
}

// writeEnvFile writes env to path as a new file, mode 0600, owned by uid:gid.
func writeEnvFile(path string, env []string, uid, gid int) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeNew(path, bytes.NewReader(encodeEnv(env)), uid, gid)
}

// writeNew creates path (not following a symbolic link, failing if it exists) with mode
// 0600, writes r into it and gives it to uid:gid (-1 keeps the owner).
func writeNew(path string, r io.Reader, uid, gid int) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if err := f.Chmod(0o600); err != nil { // whatever the umask
		return err
	}
	if uid >= 0 || gid >= 0 {
		if err := f.Chown(uid, gid); err != nil {
			return err
		}
	}
	_, err = io.Copy(f, r)
	return err
}

// copyPrivate copies the regular file src to the new file dst, mode 0600.
func copyPrivate(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	if st, err := in.Stat(); err != nil || !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", src)
	}
	if err := os.Remove(dst); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return writeNew(dst, in, -1, -1)
}

// ownPrivate makes the regular file path (not a link) mode 0600 and owned by uid:gid.
func ownPrivate(path string, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", path)
	}
	if err := f.Chown(uid, gid); err != nil {
		return err
	}
	return f.Chmod(0o600)
}

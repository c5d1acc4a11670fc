package jobdef

import (
	"crypto/md5"
	"encoding/hex"
	"strings"
)

// StorageData maps DDM endpoint (RSE) names to their descriptions.
type StorageData map[string]*DDMEndpoint

// DDMEndpoint describes one storage endpoint.
type DDMEndpoint struct {
	ID                             int64
	Name, Type, Token, Site, State string
	IsDeterministic                bool
	ARProtocols                    map[string][]Protocol
	Resource                       map[string]any
}

// Protocol is one access protocol of an endpoint.
type Protocol struct {
	Endpoint, Path, Flavour string
	ID                      int64
	Settings                map[string]any
}

// ParseStorageData parses storage data.
func ParseStorageData(data []byte) (StorageData, error) {
	return nil, NewError(NotImplemented, "", nil)
}

// RucioPath returns the deterministic Rucio path of a file.
func RucioPath(scope, lfn string) string {
	sum := md5.Sum([]byte(scope + ":" + lfn))
	h := hex.EncodeToString(sum[:])
	return strings.ReplaceAll(scope, ".", "/") + "/" + h[0:2] + "/" + h[2:4] + "/" + lfn
}

// SURL builds the destination URL of a file.
func (e *DDMEndpoint) SURL(activity, scope, lfn string) (string, error) {
	return "", NewError(NotImplemented, "", nil)
}

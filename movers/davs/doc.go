// Package davs is the "davs" mover: an HTTP/WebDAV client written in Go (no external
// tool) for davs://, dav://, https:// and http:// storage URLs.
//
// Downloads (GET) stream into a temporary file next to the destination while the checksum
// is computed, and the file is renamed into place only after the size, the expected
// checksum and, when the server sends one, the RFC 3230 "Digest" of the file have been
// verified. Uploads (PUT) stream the local file while computing its checksum (a
// movers.ChecksumReader the HTTP transport pulls from), create
// missing parent collections with MKCOL when the server answers 409 Conflict, and are
// checked afterwards with a HEAD carrying "Want-Digest" (size, and the checksum where the
// server computes one, as XRootD's HTTP plugin does; nginx does not). After a failed or
// interrupted upload the mover deletes the remote file.
//
// Requests without a body (HEAD, GET, MKCOL, DELETE) are retried a few times on connection
// errors and 5xx answers (go-retryablehttp); uploads are not (the Stager retries whole
// transfers). Credentials come from the constructor: a *tls.Config (X.509 proxy as client
// certificate, grid CAs) and headers such as "Authorization: Bearer <token>", which are
// also sent after a redirect to another host (storage doors redirect to data servers).
// davs:// maps to https://, or to http:// with Options.PlainHTTP (servers without TLS).
package davs

// Package movers moves a job's files between storage and the job directory.
//
// A Mover transfers one file in one direction (Get: remote to local, Put: local to
// remote) and reports what it moved, including a checksum computed while the bytes
// streamed through it. Movers are collected in an explicit Registry built by the caller
// (cmd/pilot) and are chosen by the queue's ordered copytool list for an activity, then by
// URL scheme. The Stager runs the stage-in and stage-out of a whole job on top of a
// Registry: it resolves URLs from queue and storage data, derives per-file timeouts from
// file sizes, retries with back-off, falls back to the next mover, verifies sizes and
// checksums, records the outcome in each jobdef.FileSpec and returns PanDA error codes.
//
// Concrete movers live in sub-packages: movers/local (copy, symlink, mv), movers/xrootd
// (xrdcp), movers/gfal (gfal-copy), movers/davs (WebDAV/HTTPS) and movers/s3 (object
// stores); movers/moverstest holds the conformance suite every mover must pass.
package movers

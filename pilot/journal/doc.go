// Package journal keeps the per-job journal: an append-only, fsync'd record
// of everything a pilot did for one job, from which the same or a later
// pilot on the node learns what is unfinished and delivers it.
//
// # File format
//
// The journal is the file FileName ("journal.jsonl") in the job directory.
// Each record is one line of JSON, ended by '\n':
//
//	{"seq":3,"time":"2026-01-02T03:04:05.123456789Z","kind":"state","data":{"state":"running"},"crc":"1a2b3c4d"}
//
// seq counts records from 1, across every pilot that wrote the file; time is
// RFC 3339 with nanoseconds, in UTC; kind names the type of data (see Kind);
// crc is the CRC-32C (Castagnoli) of the line's bytes from the opening '{'
// up to, not including, the ',"crc":' member, as 8 lower-case hex digits.
// The crc member is always last. A line whose crc does not match is damaged.
//
// # Writer
//
// One process at a time writes a journal: Open takes an exclusive,
// non-blocking flock(2) on LockFileName beside the journal and writes the
// holder's identity (Owner) into it. The lock goes away with the process,
// so a crashed pilot never blocks the next one. A record is durable once
// Journal.Append has returned nil: the line was written with one write(2)
// and fdatasync(2) succeeded.
//
// # Reader
//
// Replay reads a journal without taking the lock and never fails on its
// contents: damaged lines are skipped and listed in History.Corrupt, the
// readable records are returned. History.Pending says what is unfinished.
package journal

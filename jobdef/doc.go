// Package jobdef holds the data every part of gopilot shares with the PanDA server: job
// definitions (getJob answers in legacy urlencoded, legacy JSON and v1 form, Harvester job
// files), queue and storage descriptions, the updateJob report in the legacy (Pilot 3
// camelCase) and v1 (snake_case) naming schemes, the job output report ("xml"), payload job
// reports, and the Pilot 3 error-code table with the single error type PilotError.
//
// All parsers treat their input as untrusted: bodies are bounded (MaxBodySize), file counts
// (MaxFilesPerJob) and sizes (MaxFileSize) are bounded, file names must be plain names
// (ValidateLFN), text must be valid UTF-8, and every error is a *PilotError whose diag names
// the offending field. The package uses the standard library only and has no mutable
// package-level state.
package jobdef

// Package monitor watches a running payload: it samples the payload's
// process tree from /proc once per tick and runs the job checks of Pilot 3
// (looping job, memory, work-directory size, local free space, payload
// output size, wall time) against that one sample.
//
// A Snapshot is one scan of /proc (Sample). A Monitor is one check with its
// limits as fields; Defaults builds the Pilot 3 set from the job and queue
// descriptions. A Runner ticks, samples, runs the monitors that are due,
// calls its Kill function once with the first failure, and keeps the
// figures the heartbeats report (Stats).
//
// The package only reads: it never signals a process. Killing the payload
// is the caller's business, done in the Kill function.
package monitor

// Package timedcmd starts external commands, times them out, stops their
// whole process tree and reports exactly what happened. It knows nothing
// about PanDA: the caller turns a Result into error codes.
//
// # Process trees
//
// Every command runs in its own process group, or in its own session when
// Spec.NewSession is set. Stopping a command signals the group with the
// stop signal, waits out the grace period, kills the group with SIGKILL and
// then sweeps the descendants that escaped the group (by setsid or a double
// fork): they are found by one scan of /proc (parent links from the leader,
// members of the group or session, processes already known to belong to the
// tree), through the command's cgroup when one is used, and, for a Runner in
// subreaper mode, among the orphans that the kernel re-parented to this
// process. Only descendants of the command are ever signalled, always
// through a pidfd checked against the process start time, so a recycled pid
// is never hit. When the leader exits on its own, whatever is left of its
// tree is killed at once with SIGKILL: a command never outlives its leader.
//
// # Exit detection
//
// The leader's exit is noticed through a pidfd registered with the Go
// runtime's poller: no polling, no SIGCHLD race, no thread blocked per
// command. The process group stays reserved (the leader is not reaped)
// until the tree has been dealt with, so signalling the group is exact.
//
// # Subreaper mode
//
// A Runner created with RunnerOptions.Subreaper makes this process a child
// subreaper: orphaned descendants are re-parented to it instead of to init.
// Its reaper reaps them on SIGCHLD and adds their CPU time to the command
// they came from. It never reaps a child for which a pidfd is open in this
// process: os/exec holds one for every child it starts (Go 1.23 and later on
// Linux 5.4 and later), so exec.Cmd.Wait elsewhere in the program keeps
// working, and so do the package-level Start and Run.
//
// # Output
//
// Output goes to files (payloads) and to bounded in-memory tails (tools).
// Writers installed by timedcmd never fail: output beyond
// Spec.MaxOutputBytes is dropped silently (Result.Truncated is set) and a
// failing caller writer is skipped, so the child never gets SIGPIPE because
// of the pilot. An *os.File destination is handed to the child as it is.
package timedcmd

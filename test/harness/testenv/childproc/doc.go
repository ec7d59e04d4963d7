// Package childproc runs one child process for tests, the local workshop
// and benchmarks, and takes it down again without leaving anything behind.
//
// Contract:
//
//   - Start launches Config.Path in its own process group (a Ctrl-C meant
//     for the parent does not kill it before an orderly Stop) and, on Linux,
//     with a parent-death signal (Config.DeathSignal, SIGKILL by default), so
//     a parent that dies without calling Stop leaves nothing running.
//   - Everything the child writes to stdout and stderr is kept in a bounded
//     in-memory SyncBuffer (Log, Tail), and also goes to Config.LogPath
//     (created or truncated; closed once the child exits) and Config.Output
//     when set.
//   - Exited is closed once the child has exited and been reaped; Err is then
//     what exec.Cmd.Wait returned.
//   - WaitHTTP polls a readiness URL until it is accepted, failing fast with
//     the log tail when the child exits first, and with the last answer and
//     the log tail when ctx ends first.
//   - Stop sends SIGTERM, then SIGKILL after a grace period, and waits for the
//     exit. It is idempotent: later calls return the first call's result. Its
//     error says "was killed" when the grace period ran out.
//
// A Process's methods are safe for concurrent use.
package childproc

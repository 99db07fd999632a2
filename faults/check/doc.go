// Package check holds the checkers of the fault suite: pure functions that
// take what a workload recorded (and what the nodes hold at the end) and say
// whether sop kept its promises.
//
//   - Linearizable: single-key reads, writes, deletes and compare-and-set
//     against a register model, with porcupine (the checker etcd's
//     robustness tests use); a failing history can be written as
//     porcupine's HTML visualisation.
//   - Bank: a transfer workload is serializable: the total is constant and
//     every acknowledged transfer took effect exactly once.
//   - Stream, StreamFrom: a watcher saw exactly the journal's events for its
//     filter, in order, once each, across reconnects.
//   - Converged: every node ends at the same seq with the same state hash.
//
// Summary adds the results up for the harness's report and
// docs/RELIABILITY.md.
//
// The checkers do no I/O (except writing a visualisation when asked to) and
// keep no state between calls; with no timeout, the same input gives the
// same result. Each takes its inputs read-only and keeps no reference to
// them.
//
// # Outcomes
//
// A client that sent a request knows one of three things about it: it took
// effect (Ok), it certainly did not (Failed: the server refused it before
// applying anything, e.g. a 4xx or a failed condition), or it cannot tell
// (Unknown: a timeout, a dropped connection or a 503 after the request was
// sent). The checkers trust Ok and Failed and allow both possibilities for
// Unknown, so the recorder must only say Failed when the failure is certain.
package check

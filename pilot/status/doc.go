// Package status is the pilot's node-local status endpoint: a small HTTP
// server on a loopback TCP address or a unix socket that lets a site admin
// see what the pilot is doing and act on it without VO credentials.
//
// Endpoints (anything else answers 404, a known path with the wrong method
// 405 with an Allow header):
//
//	GET  /status   the Snapshot as JSON (application/json)
//	GET  /metrics  Prometheus text exposition format 0.0.4
//	POST /drain    finish the current job, take no more (idempotent)
//	POST /kill     kill the current job; 409 when there is none
//
// POST bodies may carry a reason: a JSON object {"reason": "..."}, a form
// field reason=..., a text/plain body, or a ?reason= query parameter. The
// answer to a POST is an ActionReply. Requests that carry an Origin header
// (sent by web browsers) are refused with 403, so that a web page open on
// the node cannot drive the admin actions.
//
// The pilot supplies the data through Source and receives the admin actions
// through Controller; both are declared here, where they are used. Metrics
// holds the counters the pilot updates as it works; /metrics writes them
// together with gauges derived from the current Snapshot.
//
// WatchDrainFile is the file-based alternative to POST /drain.
package status

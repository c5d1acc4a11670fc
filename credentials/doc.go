// Package credentials finds, parses and checks the grid credentials a pilot works with:
// X.509 proxies (RFC 3820 and legacy Globus proxies, with their VOMS attribute
// certificates), WLCG bearer tokens and PanDA OIDC tokens, and it provides the pieces for
// running payloads under another local account: identities with exact group lists,
// grid-mapfile lookups, pool-account leases and identity-wrapper argv templates.
//
// The package reports failures as plain Go errors that wrap the sentinel values declared in
// errors.go; PilotError maps them to PanDA error codes. The lifetime checks (lifetime.go:
// Lifetime, NeedBeforeJob; checker.go: Checker, which re-reads proxy and token files that
// the site renews on disk) return *jobdef.PilotError values with the codes 1163, 1177,
// 1373 and 1382 directly. Package credtest holds test helpers (a throwaway CA made with
// openssl, grid-proxy-init and voms-proxy-fake proxies, a loopback myproxy-server). It has no package-level mutable state
// and reads the process environment only through lookup functions passed in by the caller.
package credentials

// Package credentials finds, parses and checks the grid credentials a pilot works with:
// X.509 proxies (RFC 3820 and legacy Globus proxies, with their VOMS attribute
// certificates), WLCG bearer tokens and PanDA OIDC tokens, and it provides the pieces for
// running payloads under another local account: identities with exact group lists,
// grid-mapfile lookups, pool-account leases and identity-wrapper argv templates.
//
// The package reports failures as plain Go errors that wrap the sentinel values declared in
// errors.go; the pilot maps them to PanDA error codes. It has no package-level mutable state
// and reads the process environment only through lookup functions passed in by the caller.
package credentials

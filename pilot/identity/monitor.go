package identity

import (
	"context"
	"time"

	"github.com/gopilot/gopilot/credentials"
	"github.com/gopilot/gopilot/pilot/monitor"
)

var _ monitor.Monitor = (*CredentialMonitor)(nil)

// CredentialMonitor is a payload monitor (pilot/monitor) that stops the payload when a
// credential watched by Checker is about to expire: Check returns Checker.CheckRunning at
// the snapshot's time, a *jobdef.PilotError 1373 CERTIFICATEHASEXPIRED (1177 NOVOMSPROXY
// for a VOMS attribute certificate, 1163 NOPROXY for a credential never read) when one has
// less than Margin left, and a plain error (logged by the monitor runner) when a credential
// could not be read again this time but its last read is still good.
type CredentialMonitor struct {
	// Checker watches the credentials; nil or empty checks nothing.
	Checker *credentials.Checker
	// Margin is the least lifetime left; 0 means credentials.RunningMargin.
	Margin time.Duration
	// Every is the interval between checks; 0 means credentials.RunningInterval.
	Every time.Duration
}

// Name implements monitor.Monitor.
func (m *CredentialMonitor) Name() string { return "credentials" }

// Interval implements monitor.Monitor.
func (m *CredentialMonitor) Interval() time.Duration {
	if m.Every > 0 {
		return m.Every
	}
	return credentials.RunningInterval
}

// Check implements monitor.Monitor.
func (m *CredentialMonitor) Check(_ context.Context, s *monitor.Snapshot) error {
	margin := m.Margin
	if margin <= 0 {
		margin = credentials.RunningMargin
	}
	now := time.Now()
	if s != nil && !s.Time.IsZero() {
		now = s.Time
	}
	return m.Checker.CheckRunning(now, margin)
}

package jobdef

import "time"

// CopytoolSetup is the per-copytool setup of a queue.
type CopytoolSetup struct {
	Setup string
}

// QueueData is the PanDA queue description.
type QueueData struct {
	Name, Resource, Site, State, Status, Type, ResourceType string
	Timefloor                                               time.Duration
	MaxTime                                                 time.Duration
	MaxWDir, MaxInputSize, MaxRSS                           int64 // MB
	CoreCount                                               int
	Catchall                                                string
	Copytools                                               map[string]CopytoolSetup
	ACopytools                                              map[string][]string
	AStorages                                               map[string][]string
	ACopytoolsSchemas                                       map[string][]string
	Params                                                  map[string]any
	DirectAccessLAN, DirectAccessWAN                        bool
	ContainerType                                           map[string]string
	Environ                                                 string
	Raw                                                     map[string]any
}

// ParseQueueData parses a queue description.
func ParseQueueData(data []byte, queue string) (*QueueData, error) {
	return nil, NewError(NotImplemented, "", nil)
}

// CatchallHas reports whether the catchall field contains flag.
func (q *QueueData) CatchallHas(flag string) bool { return false }

// CopytoolsFor returns the copytools for the first activity with entries.
func (q *QueueData) CopytoolsFor(activities ...string) []string { return nil }

// StoragesFor returns the storages for the first activity with entries.
func (q *QueueData) StoragesFor(activities ...string) []string { return nil }

// Param returns a queue param.
func (q *QueueData) Param(name string) (any, bool) { return nil, false }

// ParamPercent returns a percentage param.
func (q *QueueData) ParamPercent(name string, def float64) float64 { return def }

// ParamBool returns a boolean param.
func (q *QueueData) ParamBool(name string) bool { return false }

// Apply returns a copy of q with overrides applied.
func (q *QueueData) Apply(overrides map[string]any) *QueueData { c := *q; return &c }

package progress

import (
	"fmt"
	"strings"
	"sync"

	"github.com/avcat/avcat/pkg/engine"
	"github.com/avcat/avcat/pkg/logging"
)

// endpointEvent is the "endpoint" event: one endpoint's new state.
type endpointEvent struct {
	Endpoint string `json:"endpoint"`
	State    string `json:"state"`
	Error    string `json:"error,omitempty"`
}

// EndpointLog reports the state changes of reconnecting endpoints
// (engine.RetrySink and RetrySource OnEvent): each new problem once as a
// warning (retries of the same one stay quiet), "up" as info, and every
// change as an "endpoint" event on j.
func EndpointLog(log *logging.Logger, j *JSONWriter) func(name string, state engine.EndpointState, err error) {
	var mu sync.Mutex
	lastErr := make(map[string]string)
	return func(name string, state engine.EndpointState, err error) {
		mu.Lock()
		switch {
		case err != nil && lastErr[name] != err.Error():
			lastErr[name] = err.Error()
			log.Warnf("%s: %s: %v", name, state, err)
		case state == engine.StateUp:
			delete(lastErr, name)
			log.Infof("%s: %s", name, state)
		case state == engine.StateConnecting:
			log.Debugf("%s: %s", name, state)
		}
		mu.Unlock()
		ev := endpointEvent{Endpoint: name, State: state.String()}
		if err != nil {
			ev.Error = err.Error()
		}
		j.Event("endpoint", ev)
	}
}

// EndpointStates is a Reporter.Extra naming each destination's state and
// reconnects, and the source's reconnects once there are some.
func EndpointStates(sinks []*engine.RetrySink, src engine.Source) func() string {
	return func() string {
		var parts []string
		for _, r := range sinks {
			name := r.Name
			if i := strings.Index(name, "://"); i >= 0 {
				name = name[i+3:]
			}
			parts = append(parts, fmt.Sprintf("%s %s (%d reconnects)", name, r.State(), r.Reconnects()))
		}
		if rs, ok := src.(*engine.RetrySource); ok && rs.Reconnects() > 0 {
			parts = append(parts, fmt.Sprintf("source reconnects %d", rs.Reconnects()))
		}
		return strings.Join(parts, ", ")
	}
}

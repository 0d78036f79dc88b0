package tracer

import (
	"errors"
	"fmt"
)

// SalvagedError reports a damaged file read with ReadOptions.Salvage: the
// trace returned with it holds the events before the damage.
type SalvagedError struct {
	Damage error // the *FormatError or *ValidationError found
	Events int   // the events kept
}

func (e *SalvagedError) Error() string {
	return fmt.Sprintf("damaged trace: %v; salvaged the %d events before the damage", e.Damage, e.Events)
}

func (e *SalvagedError) Unwrap() error { return e.Damage }

// maxSalvageTries bounds the cuts tried on a trace whose events break the
// protocol: the first violation usually explains the next.
const maxSalvageTries = 4

// salvage returns the events before a damaged record, as for a file cut
// off there.
func (rd *reader) salvage(damage error) (*Trace, error) {
	t := rd.t
	t.Truncated = true // the run's threads may lack their end, as in a cut-off file
	t.Salvaged = damage.Error()
	var verr error
	if rd.version >= StreamVersion {
		_, verr = rd.prefix()
	} else {
		verr = t.CheckValid()
	}
	if verr != nil {
		var ve *ValidationError
		if errors.As(verr, &ve) && ve.Event >= 0 {
			return rd.salvageInvalid(fmt.Errorf("%w; then %w", damage, verr))
		}
		return nil, fmt.Errorf("%w; its part before the damage is invalid: %w", damage, verr)
	}
	return t, &SalvagedError{Damage: damage, Events: len(t.Events)}
}

// salvageInvalid cuts a trace whose events break the protocol before the
// time of the first offending event, so that the rest is a consistent
// prefix of the run, and checks it again.
func (rd *reader) salvageInvalid(damage error) (*Trace, error) {
	t := rd.t
	t.Truncated = true
	t.Salvaged = damage.Error()
	err := damage
	for range maxSalvageTries {
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Event < 0 || ve.Event >= len(t.Events) {
			break
		}
		at := t.Events[ve.Event].Time
		n := ve.Event
		for n > 0 && t.Events[n-1].Time >= at {
			n--
		}
		t.Events = t.Events[:n]
		if err = t.CheckValid(); err == nil {
			return t, &SalvagedError{Damage: damage, Events: n}
		}
	}
	return nil, damage
}

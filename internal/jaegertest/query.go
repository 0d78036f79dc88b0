package jaegertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Span is a span as Jaeger stored it, from /api/v3/traces (OTLP JSON).
// Attribute values are rendered as attribute.Value.Emit renders them.
type Span struct {
	Service                       string // the resource's service.name
	TraceID, SpanID, ParentSpanID string // hex; ParentSpanID is "" for a root
	Name                          string
	Start, End                    int64 // Unix nanoseconds
	Attrs                         map[string]string
	Links                         []Link
	Events                        []Event
}

// Link is a span link.
type Link struct {
	TraceID, SpanID string
	Attrs           map[string]string
}

// Event is a span event.
type Event struct {
	Name  string
	Time  int64 // Unix nanoseconds
	Attrs map[string]string
}

// TracesV3 queries /api/v3/traces for the traces of service started in
// [from, to] and returns the raw OTLP JSON. With memory storage the API
// needs query.num_traces; it answers 404 when nothing matches.
func (j *Jaeger) TracesV3(ctx context.Context, service string, from, to time.Time) ([]byte, error) {
	q := url.Values{
		"query.service_name":   {service},
		"query.start_time_min": {from.UTC().Format(time.RFC3339Nano)},
		"query.start_time_max": {to.UTC().Format(time.RFC3339Nano)},
		"query.num_traces":     {"20"},
	}
	return j.Get(ctx, "/api/v3/traces?"+q.Encode())
}

// Spans returns the spans of the traces of service started in [from, to].
func (j *Jaeger) Spans(ctx context.Context, service string, from, to time.Time) ([]Span, error) {
	body, err := j.TracesV3(ctx, service, from, to)
	if err != nil {
		if strings.Contains(err.Error(), "404 Not Found") {
			return nil, nil
		}
		return nil, err
	}
	return ParseOTLPJSON(body)
}

// WaitSpans polls Spans until at least n spans are stored (Jaeger batches
// before it stores) or timeout passes, and returns the last answer.
func (j *Jaeger) WaitSpans(ctx context.Context, service string, from, to time.Time, n int, timeout time.Duration) ([]Span, error) {
	deadline := time.Now().Add(timeout)
	for {
		spans, err := j.Spans(ctx, service, from, to)
		if err != nil || len(spans) >= n || time.Now().After(deadline) {
			return spans, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type otlpValue struct {
	StringValue *string
	IntValue    *string
	BoolValue   *bool
	DoubleValue *float64
	ArrayValue  *struct{ Values []otlpValue }
}

type otlpKV struct {
	Key   string
	Value otlpValue
}

type otlpTraces struct {
	Result struct {
		ResourceSpans []struct {
			Resource   struct{ Attributes []otlpKV }
			ScopeSpans []struct {
				Spans []struct {
					TraceID, SpanID, ParentSpanID      string
					Name                               string
					StartTimeUnixNano, EndTimeUnixNano int64 `json:",string"`
					Attributes                         []otlpKV
					Links                              []struct {
						TraceID, SpanID string
						Attributes      []otlpKV
					}
					Events []struct {
						Name         string
						TimeUnixNano int64 `json:",string"`
						Attributes   []otlpKV
					}
				}
			}
		}
	}
}

// ParseOTLPJSON decodes the answer of /api/v3/traces.
func ParseOTLPJSON(body []byte) ([]Span, error) {
	var resp otlpTraces
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("decoding /api/v3/traces: %w", err)
	}
	var spans []Span
	for _, rs := range resp.Result.ResourceSpans {
		res := attrs(rs.Resource.Attributes)
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				sp := Span{
					Service: res["service.name"], TraceID: s.TraceID, SpanID: s.SpanID, ParentSpanID: s.ParentSpanID,
					Name: s.Name, Start: s.StartTimeUnixNano, End: s.EndTimeUnixNano, Attrs: attrs(s.Attributes),
				}
				for _, l := range s.Links {
					sp.Links = append(sp.Links, Link{TraceID: l.TraceID, SpanID: l.SpanID, Attrs: attrs(l.Attributes)})
				}
				for _, e := range s.Events {
					sp.Events = append(sp.Events, Event{Name: e.Name, Time: e.TimeUnixNano, Attrs: attrs(e.Attributes)})
				}
				spans = append(spans, sp)
			}
		}
	}
	return spans, nil
}

func attrs(kvs []otlpKV) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[kv.Key] = fmt.Sprint(kv.Value.emit())
	}
	return m
}

// emit renders v as attribute.Value.Emit does.
func (v otlpValue) emit() any {
	switch {
	case v.StringValue != nil:
		return *v.StringValue
	case v.IntValue != nil:
		return *v.IntValue
	case v.BoolValue != nil:
		return *v.BoolValue
	case v.DoubleValue != nil:
		return *v.DoubleValue
	case v.ArrayValue != nil:
		var a []any
		for _, e := range v.ArrayValue.Values {
			if e.IntValue != nil {
				a = append(a, json.Number(*e.IntValue))
			} else {
				a = append(a, e.emit())
			}
		}
		b, _ := json.Marshal(a)
		return string(b)
	}
	return nil
}

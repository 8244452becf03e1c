package sessions

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/protobuf/proto"

	"github.com/weave-agentd/weave-agentd/genai"
)

// resources builds the OTLP resource of each span: the host part detected
// once with the OpenTelemetry SDK's resource package (host.name, os.type,
// OTEL_RESOURCE_ATTRIBUTES), merged with the agent's attributes from the
// span (service.name, service.version, agent extras). No process.*: that
// would describe the daemon, not the agent.
type resources struct {
	base        []attribute.KeyValue
	serviceName string // config override
	mu          sync.Mutex
	cache       map[string][]byte
}

func newResources(ctx context.Context, set Settings) (*resources, error) {
	opts := []resource.Option{resource.WithFromEnv()}
	if set.CaptureHost {
		opts = append(opts, resource.WithHost(), resource.WithOSType())
	}
	r, err := resource.New(ctx, opts...)
	if err != nil && r == nil {
		return nil, fmt.Errorf("detect resource: %w", err)
	}
	base := []attribute.KeyValue{attribute.String("weave_agentd.version", set.Version)}
	for _, kv := range r.Attributes() {
		if kv.Key == "service.name" && strings.HasPrefix(kv.Value.AsString(), "unknown_service") {
			continue
		}
		base = append(base, kv)
	}
	return &resources{base: base, serviceName: set.ServiceName, cache: map[string][]byte{}}, nil
}

// encoded returns the encoded OTLP resource for a span's agent attributes.
func (r *resources) encoded(agent []attribute.KeyValue) ([]byte, error) {
	key := attrKey(agent)
	r.mu.Lock()
	defer r.mu.Unlock()
	if b, ok := r.cache[key]; ok {
		return b, nil
	}
	attrs := append(append([]attribute.KeyValue(nil), r.base...), agent...)
	if r.serviceName != "" {
		attrs = append(attrs, attribute.String("service.name", r.serviceName))
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(genai.ResourceProto(attrs))
	if err != nil {
		return nil, err
	}
	if len(r.cache) > 1024 {
		clear(r.cache)
	}
	r.cache[key] = b
	return b, nil
}

func attrKey(attrs []attribute.KeyValue) string {
	parts := make([]string, len(attrs))
	for i, kv := range attrs {
		parts[i] = string(kv.Key) + "=" + kv.Value.String()
	}
	sort.Strings(parts)
	return strings.Join(parts, "\x00")
}

// encode redacts and encodes one span with its resource.
func (s *sessions) encode(sp *genai.Span) (res, span []byte, err error) {
	s.red.Span(sp)
	res, err = s.res.encoded(sp.Resource)
	if err != nil {
		return nil, nil, err
	}
	span, err = proto.MarshalOptions{Deterministic: true}.Marshal(sp.Proto())
	return res, span, err
}

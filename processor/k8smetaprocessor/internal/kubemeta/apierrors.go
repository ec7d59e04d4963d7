package kubemeta

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// apiErrorReporter counts every Kubernetes API error and logs each cause
// (verb, resource, reason) once, naming the missing permission for RBAC
// denials, so that a role without e.g. replicasets/get does not flood the
// log while the caller retries in the background.
type apiErrorReporter struct {
	logger  *zap.Logger
	counter metric.Int64Counter // may be nil

	mu   sync.Mutex
	seen map[string]struct{}
}

func newAPIErrorReporter(logger *zap.Logger, counter metric.Int64Counter) *apiErrorReporter {
	return &apiErrorReporter{logger: logger, counter: counter, seen: map[string]struct{}{}}
}

// report records err from verb on resource (group/resource form, "" group
// for core). It ignores cancellations caused by shutdown.
func (r *apiErrorReporter) report(verb, group, resource string, err error) {
	if err == nil || errors.Is(err, context.Canceled) {
		return
	}
	reason := string(apierrors.ReasonForError(err))
	if reason == "" {
		reason = "Unknown"
	}
	if r.counter != nil {
		r.counter.Add(context.Background(), 1, metric.WithAttributes(
			attribute.String("resource", resource),
			attribute.String("verb", verb),
			attribute.String("reason", reason),
		))
	}
	key := verb + "/" + group + "/" + resource + "/" + reason
	r.mu.Lock()
	_, dup := r.seen[key]
	r.seen[key] = struct{}{}
	r.mu.Unlock()
	if dup {
		return
	}
	if apierrors.IsForbidden(err) {
		// client-go streams an informer's first list as a watch, so a
		// denied list shows up as "watch": the rule to add is the
		// get/list/watch triple the README documents.
		verbs := fmt.Sprintf("[%q]", verb)
		if verb == "list" || verb == "watch" {
			verbs = `["get", "list", "watch"]`
		}
		r.logger.Warn("missing RBAC permission; data passes through without this metadata and the call is retried in the background",
			zap.String("permission", fmt.Sprintf("apiGroups: [%q], resources: [%q], verbs: %s", group, resource, verbs)),
			zap.Error(err))
		return
	}
	r.logger.Warn("kubernetes API error; metadata already cached keeps being used (none before the first sync) and the call is retried in the background",
		zap.String("verb", verb), zap.String("resource", resource), zap.String("reason", reason), zap.Error(err))
}

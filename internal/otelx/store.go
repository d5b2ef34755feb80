package otelx

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/idemsum/idemsum/idempotency"
)

// Store returns s with a client span for each of its calls, a child of
// the request's span, made by tracer: redisstore sends the claims and
// completions of concurrent requests together in one pipeline from a
// goroutine of its own, whose go-redis spans (redisotel) can belong to no
// single request. The spans are named idempotency.store.get, .claim,
// .release, .put and .complete; ErrNotFound and ErrInFlight are recorded
// as answers (idempotency.result), other errors as failures.
func Store(s idempotency.Store, tracer trace.Tracer) idempotency.Store {
	return &tracedStore{Store: s, tracer: tracer}
}

type tracedStore struct {
	idempotency.Store
	tracer trace.Tracer
}

// start starts the span of operation op on key's store.
func (s *tracedStore) start(ctx context.Context, op string) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, "idempotency.store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "redis"), attribute.String("idempotency.op", op)))
}

// end ends span with err; ErrNotFound and ErrInFlight are answers, not
// failures.
func end(span trace.Span, err error) {
	switch {
	case err == nil:
	case err == idempotency.ErrNotFound, err == idempotency.ErrInFlight:
		span.SetAttributes(attribute.String("idempotency.result", err.Error()))
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func (s *tracedStore) Get(ctx context.Context, key string) (idempotency.Record, error) {
	ctx, span := s.start(ctx, "get")
	rec, err := s.Store.Get(ctx, key)
	end(span, err)
	return rec, err
}

func (s *tracedStore) Claim(ctx context.Context, key string, lease time.Duration) (string, error) {
	ctx, span := s.start(ctx, "claim")
	token, err := s.Store.Claim(ctx, key, lease)
	end(span, err)
	return token, err
}

func (s *tracedStore) Release(ctx context.Context, key, token string) error {
	ctx, span := s.start(ctx, "release")
	err := s.Store.Release(ctx, key, token)
	end(span, err)
	return err
}

func (s *tracedStore) Put(ctx context.Context, key string, rec idempotency.Record, ttl time.Duration) error {
	ctx, span := s.start(ctx, "put")
	err := s.Store.Put(ctx, key, rec, ttl)
	end(span, err)
	return err
}

// Complete is the inner Store's Complete, or Put and then Release when it
// has none (idempotency.Completer's contract).
func (s *tracedStore) Complete(ctx context.Context, key, token string, rec idempotency.Record, ttl time.Duration) error {
	ctx, span := s.start(ctx, "complete")
	var err error
	if c, ok := s.Store.(idempotency.Completer); ok {
		err = c.Complete(ctx, key, token, rec, ttl)
	} else if err = s.Store.Put(ctx, key, rec, ttl); err == nil {
		err = s.Store.Release(ctx, key, token)
	}
	end(span, err)
	return err
}

// BatchStore returns s with a client span for each of its calls, a child
// of the batch's span (groupcommit.flush), made by tracer: named
// idempotency.store.get and .put like Store's, with the number of keys as
// idempotency.keys and, for a look-up, the number found as
// idempotency.found.
func BatchStore(s idempotency.BatchStore, tracer trace.Tracer) idempotency.BatchStore {
	return &tracedBatchStore{s: s, tracer: tracer}
}

type tracedBatchStore struct {
	s      idempotency.BatchStore
	tracer trace.Tracer
}

func (s *tracedBatchStore) start(ctx context.Context, op string, n int) (context.Context, trace.Span) {
	return s.tracer.Start(ctx, "idempotency.store."+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "redis"), attribute.String("idempotency.op", op), attribute.Int("idempotency.keys", n)))
}

func (s *tracedBatchStore) GetMany(ctx context.Context, keys []string) ([]idempotency.Record, []bool, error) {
	ctx, span := s.start(ctx, "get", len(keys))
	recs, found, err := s.s.GetMany(ctx, keys)
	n := 0
	for _, f := range found {
		if f {
			n++
		}
	}
	span.SetAttributes(attribute.Int("idempotency.found", n))
	end(span, err)
	return recs, found, err
}

func (s *tracedBatchStore) PutMany(ctx context.Context, items []idempotency.Item) error {
	ctx, span := s.start(ctx, "put", len(items))
	err := s.s.PutMany(ctx, items)
	end(span, err)
	return err
}

// Package orders is an example service built only on the idempotency
// toolkit's Middleware, with mysqlstore or redisstore as its Store: the
// toolkit's second user after idemsum, and the code of its tutorial,
// docs/toolkit.md.
//
// POST /orders places an order: it inserts a row into MySQL, then asks a
// slow downstream, the warehouse, to reserve the items, and answers 201
// with the order. The handler is fenced the way the tutorial teaches: the
// row carries the request's idempotency key under a unique key, so a
// second run for a key (after a crash between the insert and the
// Store's record, after Redis lost the record, after a lease overrun)
// finds the first order instead of placing another; and the key goes on
// to the warehouse, whose reservations are idempotent by it.
//
// The binary is cmd/orders; orders_e2e_test.go kills it mid-request,
// flushes and stops its Redis, and checks that every key placed exactly
// one order.
package orders

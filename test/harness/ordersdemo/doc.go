// Package ordersdemo is a stand-in for the EKS workshop's orders service
// (retail-store-sample-app "orders"): it keeps orders in memory, places them
// at a steady rate with a seeded load generator, and exposes them on
// /actuator/prometheus the way the Java service's Micrometer registry does:
//
//   - watch_orders_total{productId="<uuid>"}: quantity ordered of that product;
//   - watch_orders_total{productId="*"}: number of orders placed;
//   - watch_orderTotal: sum of the totals of all orders placed;
//   - jdbc_connections_idle{name="reader"|"writer"}: a constant pool size;
//   - watch_order_placement_seconds: how long placing each order took, a
//     histogram with native buckets (protobuf exposition) and classic ones,
//     made by the Prometheus Go client library.
//
// /state reports the same numbers as JSON. A scrape and a /state answer are
// each rendered from one Snapshot taken under the store's lock, so both are
// internally consistent; once the generator is paused (POST /pause) they
// stay equal until POST /resume, which is what end-to-end tests compare
// against what Prometheus stored.
package ordersdemo

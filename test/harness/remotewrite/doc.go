// Package remotewrite decodes Prometheus remote-write 1.0 requests, keeps
// what a sender wrote (Recorder) and renders it as stable text for golden
// files (Render). It is the receiving end shared by the golden pipeline
// tests, the end-to-end, chaos and benchmark harnesses.
//
// Typical use in a test:
//
//	rec := remotewrite.NewRecorder(&sigv4check.Verifier{...})
//	srv := httptest.NewServer(rec)
//	// ... point the collector's exporter at srv.URL ...
//	err := rec.WaitFor(ctx, func(s remotewrite.Snapshot) bool { return s.Stats.Samples >= 10 })
//	got := remotewrite.Render(rec.Series(), remotewrite.RenderOptions{DistinctValues: true})
package remotewrite

package workshop

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// PodsAPI is the part of a Kubernetes API server that k8smeta reads with
// its default extraction (workload and node, both from the pod): list and
// watch of every pod, GET /api/v1/pods, in JSON, on loopback, without
// authentication. Watches follow the API server's contract: from a
// resource version, every change after it; with sendInitialEvents (the
// watch-list request client-go makes first), the current pods as ADDED
// events, then a bookmark annotated k8s.io/initial-events-end. Everything
// else is answered 404. Tests change the pods with Add and Delete while the
// collector watches.
type PodsAPI struct {
	ln        net.Listener
	srv       *http.Server
	done      chan struct{} // closed by Close: ends the watches
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex
	rv      int64
	pods    map[string]*corev1.Pod // by namespace/name
	events  []podEvent             // every change, in resource-version order
	changed chan struct{}          // closed, and replaced, at every change
}

type podEvent struct {
	typ watch.EventType
	pod *corev1.Pod
}

// initialEventsEnd is the annotation of the bookmark that ends the initial
// events of a watch-list request (metav1.InitialEventsAnnotationKey).
const initialEventsEnd = "k8s.io/initial-events-end"

// StartPodsAPI serves an empty pod list on a free loopback port.
func StartPodsAPI() (*PodsAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen for the pods API: %w", err)
	}
	a := &PodsAPI{
		ln: ln, done: make(chan struct{}),
		pods: map[string]*corev1.Pod{}, changed: make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/pods", a.servePods)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, r.URL.Path+" is not served by the workshop's pods API")
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.srv.Serve(ln) }()
	return a, nil
}

// URL is the API server's base URL, e.g. http://127.0.0.1:40123.
func (a *PodsAPI) URL() string { return "http://" + a.ln.Addr().String() }

// WriteKubeconfig writes a kubeconfig whose current context is this API,
// for KUBECONFIG.
func (a *PodsAPI) WriteKubeconfig(path string) error {
	config := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
  - name: workshop
    cluster:
      server: %s
users:
  - name: workshop
    user: {}
contexts:
  - name: workshop
    context:
      cluster: workshop
      user: workshop
current-context: workshop
`, a.URL())
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		return fmt.Errorf("cannot write kubeconfig: %w", err)
	}
	return nil
}

// Add creates pod, or replaces the pod of the same namespace and name
// (ADDED or MODIFIED to watchers). The API keeps a copy.
func (a *PodsAPI) Add(pod *corev1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := pod.Namespace + "/" + pod.Name
	typ := watch.Added
	if _, ok := a.pods[key]; ok {
		typ = watch.Modified
	}
	p := pod.DeepCopy()
	a.pods[key] = p
	a.record(typ, p)
}

// Delete removes the pod namespace/name (DELETED to watchers); false when
// there is none.
func (a *PodsAPI) Delete(namespace, name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := namespace + "/" + name
	p, ok := a.pods[key]
	if !ok {
		return false
	}
	delete(a.pods, key)
	p = p.DeepCopy()
	a.record(watch.Deleted, p)
	return true
}

// record stamps p with the next resource version and wakes the watchers.
// The caller holds a.mu.
func (a *PodsAPI) record(typ watch.EventType, p *corev1.Pod) {
	a.rv++
	p.ResourceVersion = strconv.FormatInt(a.rv, 10)
	a.events = append(a.events, podEvent{typ: typ, pod: p})
	close(a.changed)
	a.changed = make(chan struct{})
}

// Close ends every watch and stops serving; calling it again is harmless.
func (a *PodsAPI) Close() error {
	a.closeOnce.Do(func() {
		close(a.done)
		a.closeErr = a.srv.Close()
	})
	return a.closeErr
}

func (a *PodsAPI) servePods(w http.ResponseWriter, r *http.Request) {
	if v := r.URL.Query().Get("watch"); v == "true" || v == "1" {
		a.serveWatch(w, r)
		return
	}
	a.mu.Lock()
	list := corev1.PodList{
		TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"},
		ListMeta: metav1.ListMeta{ResourceVersion: strconv.FormatInt(a.rv, 10)},
		Items:    a.current(),
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// current returns the pods, sorted by namespace/name. The caller holds a.mu.
func (a *PodsAPI) current() []corev1.Pod {
	keys := make([]string, 0, len(a.pods))
	for k := range a.pods {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]corev1.Pod, 0, len(keys))
	for _, k := range keys {
		p := *a.pods[k]
		p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
		out = append(out, p)
	}
	return out
}

func (a *PodsAPI) serveWatch(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, "streaming unsupported")
		return
	}
	q := r.URL.Query()
	var timeout <-chan time.Time
	if s, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && s > 0 {
		t := time.NewTimer(time.Duration(s) * time.Second)
		defer t.Stop()
		timeout = t.C
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(typ watch.EventType, obj any) error {
		return enc.Encode(struct {
			Type   watch.EventType `json:"type"`
			Object any             `json:"object"`
		}{typ, obj})
	}

	a.mu.Lock()
	from := a.rv
	if q.Get("sendInitialEvents") == "true" {
		initial := a.current()
		a.mu.Unlock()
		for i := range initial {
			if send(watch.Added, &initial[i]) != nil {
				return
			}
		}
		bookmark := corev1.Pod{
			TypeMeta: metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"},
			ObjectMeta: metav1.ObjectMeta{
				ResourceVersion: strconv.FormatInt(from, 10),
				Annotations:     map[string]string{initialEventsEnd: "true"},
			},
		}
		if send(watch.Bookmark, &bookmark) != nil {
			return
		}
	} else {
		// "" and "0" mean "from now" for a watch; a number, after it.
		if rv, err := strconv.ParseInt(q.Get("resourceVersion"), 10, 64); err == nil && rv > 0 {
			from = rv
		}
		a.mu.Unlock()
	}
	flusher.Flush()

	for {
		a.mu.Lock()
		var pending []podEvent
		for _, e := range a.events {
			if rv, _ := strconv.ParseInt(e.pod.ResourceVersion, 10, 64); rv > from {
				pending = append(pending, e)
			}
		}
		changed := a.changed
		a.mu.Unlock()
		for _, e := range pending {
			p := *e.pod
			p.TypeMeta = metav1.TypeMeta{Kind: "Pod", APIVersion: "v1"}
			if send(e.typ, &p) != nil {
				return
			}
			from, _ = strconv.ParseInt(p.ResourceVersion, 10, 64)
		}
		flusher.Flush()
		select {
		case <-changed:
		case <-timeout:
			return
		case <-r.Context().Done():
			return
		case <-a.done:
			return
		}
	}
}

// writeStatus answers with a Kubernetes Status object, as the API server does.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	})
}

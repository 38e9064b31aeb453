// openshift-admission serves OpenShift's own admission code to a vanilla kube-apiserver as URL
// webhooks, for the project's OpenShift test tier: SecurityContextConstraints admission
// (mutating and validating, from openshift/apiserver-library-go), Route validation and host
// assignment (from openshift/library-go), and the namespace UID/MCS allocation that
// cluster-policy-controller does on a real cluster. Nothing here decides on its own: every
// verdict comes from the upstream packages.
package main

import (
	"context"
	"flag"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	securityclient "github.com/openshift/client-go/security/clientset/versioned"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

func main() {
	var (
		kubeconfig = flag.String("kubeconfig", "", "kubeconfig of an identity that may read SCCs and namespaces, create SubjectAccessReviews and annotate namespaces")
		listen     = flag.String("listen", "127.0.0.1:0", "address of the HTTPS webhook server")
		certFile   = flag.String("tls-cert", "", "serving certificate (PEM)")
		keyFile    = flag.String("tls-key", "", "serving key (PEM)")
		routeHosts = flag.String("route-domain", "apps.openshell.test", "DNS suffix of generated Route hosts")
		uidRange   = flag.String("uid-range", "1000000000-1999999999/10000", "namespace UID blocks, as cluster-policy-controller's --uid-range")
		mcsBits    = flag.Int("mcs-categories", 2, "MCS categories a namespace label has (cluster-policy-controller's s0:/2)")
		mcsPerNS   = flag.Int("mcs-labels-per-project", 5, "MCS labels set aside per namespace (cluster-policy-controller's default)")
		allocDelay = flag.Duration("allocation-delay", 500*time.Millisecond, "wait before annotating a new namespace, as a real cluster lags")
	)
	klog.InitFlags(nil)
	flag.Parse()

	config, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		klog.Fatalf("kubeconfig: %v", err)
	}
	kube := kubernetes.NewForConfigOrDie(config)
	security := securityclient.NewForConfigOrDie(config)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	scc, err := newSCCAdmission(ctx, kube, security)
	if err != nil {
		klog.Fatalf("scc admission: %v", err)
	}
	routes, err := newRouteAdmission(kube, *routeHosts)
	if err != nil {
		klog.Fatalf("route admission: %v", err)
	}
	allocator, err := newNamespaceAllocator(kube, *uidRange, *mcsBits, *mcsPerNS, *allocDelay)
	if err != nil {
		klog.Fatalf("namespace allocator: %v", err)
	}
	go allocator.run(ctx)

	mux := http.NewServeMux()
	mux.Handle("/scc/mutate", review(scc.admit))
	mux.Handle("/scc/validate", review(scc.validate))
	mux.Handle("/route/mutate", review(routes.admit))
	mux.Handle("/route/validate", review(routes.validate))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	server := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = server.Shutdown(shutdown)
	}()
	klog.Infof("serving admission webhooks on https://%s", *listen)
	if err := server.ListenAndServeTLS(*certFile, *keyFile); err != nil && err != http.ErrServerClosed {
		klog.Fatalf("serve: %v", err)
	}
}

package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	securityv1 "github.com/openshift/api/security/v1"
	securityfake "github.com/openshift/client-go/security/clientset/versioned/fake"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"sigs.k8s.io/yaml"
)

// The webhook's wiring around the upstream plugin, without an API server (tier 3 has one):
// the default SCCs and deploy/openshift/scc.yaml as data, a namespace as the allocator
// annotates it, and a SubjectAccessReview that allows `use` of openshell-sandbox to one
// ServiceAccount only.
func sccFixture(t *testing.T) *sccAdmission {
	t.Helper()
	var sccs []runtime.Object
	for _, file := range []string{"../cluster/manifests/openshift-default-sccs.yaml", "../../deploy/openshift/scc.yaml"} {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(text), "\n---\n") {
			if !strings.Contains(doc, "kind: SecurityContextConstraints") {
				continue
			}
			scc := &securityv1.SecurityContextConstraints{}
			if err := yaml.Unmarshal([]byte(doc), scc); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			sccs = append(sccs, scc)
		}
	}
	if len(sccs) != 14 {
		t.Fatalf("want 13 default SCCs and ours, got %d", len(sccs))
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Annotations: map[string]string{
		uidRangeAnnotation: "1000000000/10000", supplementalGroupsAnnotation: "1000000000/10000", mcsAnnotation: "s0:c1,c0",
	}}}
	kube := fake.NewClientset(ns)
	kube.PrependReactor("create", "subjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		sar := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		attrs := sar.Spec.ResourceAttributes
		sar.Status.Allowed = attrs != nil && attrs.Verb == "use" && attrs.Name == "openshell-sandbox" &&
			sar.Spec.User == "system:serviceaccount:team:granted"
		return true, sar, nil
	})
	// The fake tracker guesses the resource from the kind ("...constraintses"): name it.
	security := securityfake.NewSimpleClientset()
	gvr := securityv1.GroupVersion.WithResource("securitycontextconstraints")
	for _, scc := range sccs {
		if err := security.Tracker().Create(gvr, scc, ""); err != nil {
			t.Fatal(err)
		}
	}
	s, err := newSCCAdmission(context.Background(), kube, security)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A pod shaped like the driver's: root with the supervisor's capabilities, our SCC required.
func driverPod(serviceAccount string) *corev1.Pod {
	no, yes := false, true
	root, proxyUID := int64(0), int64(1000000000)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "default--nb", Namespace: "team",
			Annotations: map[string]string{"openshift.io/required-scc": "openshell-sandbox"}},
		Spec: corev1.PodSpec{ServiceAccountName: serviceAccount, Containers: []corev1.Container{{
			Name: "agent", Image: "agent:1",
			SecurityContext: &corev1.SecurityContext{RunAsUser: &root, RunAsNonRoot: &no, Privileged: &no,
				Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYSLOG"}}},
		}, {
			// The OAuth proxy: non-root with a UID of the namespace's range, nothing added.
			Name: "oauth-proxy", Image: "oauth-proxy:1",
			SecurityContext: &corev1.SecurityContext{RunAsUser: &proxyUID, RunAsNonRoot: &yes, AllowPrivilegeEscalation: &no,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}},
		}}},
	}
}

func podRequest(t *testing.T, pod *corev1.Pod) *admissionv1.AdmissionRequest {
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	return &admissionv1.AdmissionRequest{
		UID: "1", Kind: metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Resource:  metav1.GroupVersionResource{Version: "v1", Resource: "pods"},
		Namespace: pod.Namespace, Name: pod.Name, Operation: admissionv1.Create,
		UserInfo: authenticationUser("system:serviceaccount:agent-sandbox-system:agent-sandbox-controller"),
		Object:   runtime.RawExtension{Raw: raw},
	}
}

func TestSCCAdmissionMutatesThenValidatesTheDriversPod(t *testing.T) {
	s := sccFixture(t)
	req := podRequest(t, driverPod("granted"))
	v := s.admit(context.Background(), req)
	if v.err != nil {
		t.Fatalf("refused: %v", v.err)
	}
	resp := respond(v, req)
	if !resp.Allowed || resp.PatchType == nil {
		t.Fatalf("no patch: %+v", resp)
	}
	admitted := v.mutated.(*corev1.Pod)
	if got := admitted.Annotations["openshift.io/scc"]; got != "openshell-sandbox" {
		t.Errorf("openshift.io/scc = %q", got)
	}
	sc := admitted.Spec.SecurityContext
	if sc == nil || sc.SELinuxOptions == nil || sc.SELinuxOptions.Level != "s0:c1,c0" || sc.FSGroup == nil || *sc.FSGroup != 1000000000 {
		t.Errorf("pod security context not from the namespace: %+v", sc)
	}
	agent := admitted.Spec.Containers[0].SecurityContext
	if agent.Capabilities == nil || len(agent.Capabilities.Add) != 4 || len(agent.Capabilities.Drop) != 0 {
		t.Errorf("the supervisor's capabilities changed: %+v", agent.Capabilities)
	}
	if !strings.Contains(string(resp.Patch), "openshift.io~1scc") {
		t.Errorf("the patch does not carry the SCC annotation: %s", resp.Patch)
	}
	// The validating phase sees the mutated pod and agrees.
	if v := s.validate(context.Background(), podRequest(t, admitted)); v.err != nil {
		t.Errorf("validate refused the admitted pod: %v", v.err)
	}
}

func TestSCCAdmissionRefusesWithoutTheGrant(t *testing.T) {
	s := sccFixture(t)
	v := s.admit(context.Background(), podRequest(t, driverPod("default")))
	if v.err == nil || !strings.Contains(v.err.Error(), "unable to validate against any security context constraint") {
		t.Fatalf("want a refusal, got %v", v.err)
	}
	if status := statusOf(v.err); status.Code != 403 {
		t.Errorf("want 403, got %+v", status)
	}
}

func authenticationUser(name string) authenticationv1.UserInfo {
	return authenticationv1.UserInfo{Username: name, Groups: []string{"system:serviceaccounts", "system:authenticated"}}
}

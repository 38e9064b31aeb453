package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	admissionv1 "k8s.io/api/admission/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// A driver without routes/custom-host, as the SubjectAccessReview answers for it.
func routeFixture(t *testing.T) *routeAdmission {
	t.Helper()
	kube := fake.NewClientset()
	kube.PrependReactor("create", "subjectaccessreviews", func(action k8stesting.Action) (bool, runtime.Object, error) {
		sar := action.(k8stesting.CreateAction).GetObject().(*authorizationv1.SubjectAccessReview)
		sar.Status.Allowed = false
		return true, sar, nil
	})
	r, err := newRouteAdmission(kube, "apps.openshell.test")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func routeRequest(t *testing.T, host string) *admissionv1.AdmissionRequest {
	route := &routev1.Route{
		TypeMeta:   metav1.TypeMeta{APIVersion: "route.openshift.io/v1", Kind: "Route"},
		ObjectMeta: metav1.ObjectMeta{Name: "sandbox-default--nb", Namespace: "team"},
		Spec: routev1.RouteSpec{Host: host, To: routev1.RouteTargetReference{Kind: "Service", Name: "sandbox-default--nb"},
			TLS: &routev1.TLSConfig{Termination: routev1.TLSTerminationEdge}, WildcardPolicy: routev1.WildcardPolicyNone},
	}
	raw, err := json.Marshal(route)
	if err != nil {
		t.Fatal(err)
	}
	return &admissionv1.AdmissionRequest{
		UID: "1", Resource: metav1.GroupVersionResource{Group: "route.openshift.io", Version: "v1", Resource: "routes"},
		Namespace: "team", Name: route.Name, Operation: admissionv1.Create,
		UserInfo: authenticationUser("system:serviceaccount:team:openshell-driver"),
		Object:   runtime.RawExtension{Raw: raw},
	}
}

func TestARouteWithoutAHostGetsThePlatformsAndValidates(t *testing.T) {
	r := routeFixture(t)
	v := r.admit(context.Background(), routeRequest(t, ""))
	if v.err != nil {
		t.Fatal(v.err)
	}
	route := v.mutated.(*routev1.Route)
	if route.Spec.Host != "sandbox-default--nb-team.apps.openshell.test" || route.Annotations["openshift.io/host.generated"] != "true" {
		t.Errorf("host %q, annotations %v", route.Spec.Host, route.Annotations)
	}
	if v := r.validate(context.Background(), routeRequest(t, route.Spec.Host)); v.err != nil {
		t.Errorf("OpenShift's validation refused the assigned route: %v", v.err)
	}
}

func TestACustomHostWithoutRoutesCustomHostIsForbidden(t *testing.T) {
	r := routeFixture(t)
	v := r.admit(context.Background(), routeRequest(t, "nb.apps.example.com"))
	if v.err == nil || !strings.Contains(v.err.Error(), "you do not have permission to set the host field of the route") {
		t.Fatalf("want the custom-host refusal, got %v", v.err)
	}
}

func TestRouteValidationRefusesAPathWithASpace(t *testing.T) {
	req := routeRequest(t, "")
	var route routev1.Route
	if err := json.Unmarshal(req.Object.Raw, &route); err != nil {
		t.Fatal(err)
	}
	route.Spec.Path = "/a b"
	req.Object.Raw, _ = json.Marshal(route)
	if v := routeFixture(t).validate(context.Background(), req); v.err == nil || !strings.Contains(v.err.Error(), "cannot contain # or spaces") {
		t.Fatalf("want the path refused, got %v", v.err)
	}
}

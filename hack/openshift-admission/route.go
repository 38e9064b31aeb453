package main

import (
	"context"
	"encoding/json"
	"fmt"

	routev1 "github.com/openshift/api/route/v1"
	"github.com/openshift/library-go/pkg/route/hostassignment"
	"github.com/openshift/library-go/pkg/route/validation"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/kubernetes"
)

// routeAdmission does what openshift-apiserver's Route strategy does around storage: host
// assignment on create (and keeping the host on update), then Route validation, with the
// custom-host permission checks asked of the API server as the requesting user.
type routeAdmission struct {
	kube      kubernetes.Interface
	allocator hostassignment.HostnameGenerator
}

func newRouteAdmission(kube kubernetes.Interface, domain string) (*routeAdmission, error) {
	allocator, err := hostassignment.NewSimpleAllocationPlugin(domain)
	if err != nil {
		return nil, err
	}
	return &routeAdmission{kube: kube, allocator: allocator}, nil
}

var routeKind = schema.GroupKind{Group: routev1.GroupName, Kind: "Route"}

func (r *routeAdmission) admit(ctx context.Context, req *admissionv1.AdmissionRequest) verdict {
	route, old, err := decodeRoutes(req)
	if err != nil || route == nil || req.SubResource != "" {
		return verdict{err: err}
	}
	original := route.DeepCopy()
	ctx = userContext(ctx, req)
	var errs field.ErrorList
	switch {
	case old == nil:
		errs = hostassignment.AllocateHost(ctx, route, r.kube.AuthorizationV1().SubjectAccessReviews(), r.allocator)
	case route.Spec.Host == "":
		// openshift-apiserver ignores attempts to clear the host.
		route.Spec.Host = old.Spec.Host
	}
	if len(errs) > 0 {
		return verdict{err: apierrors.NewInvalid(routeKind, route.Name, errs)}
	}
	return verdict{original: original, mutated: route}
}

func (r *routeAdmission) validate(ctx context.Context, req *admissionv1.AdmissionRequest) verdict {
	route, old, err := decodeRoutes(req)
	if err != nil || route == nil {
		return verdict{err: err}
	}
	ctx = userContext(ctx, req)
	sar := r.kube.AuthorizationV1().SubjectAccessReviews()
	var errs field.ErrorList
	switch {
	case req.SubResource == "status":
		errs = validation.ValidateRouteStatusUpdate(route, old)
	case old == nil:
		errs = validation.ValidateRoute(ctx, route, sar, r.kube.CoreV1())
	default:
		errs = validation.ValidateRouteUpdate(ctx, route, old, sar, r.kube.CoreV1())
		errs = append(errs, hostassignment.ValidateHostUpdate(ctx, route, old, sar)...)
	}
	if len(errs) > 0 {
		return verdict{err: apierrors.NewInvalid(routeKind, route.Name, errs)}
	}
	return verdict{}
}

func decodeRoutes(req *admissionv1.AdmissionRequest) (*routev1.Route, *routev1.Route, error) {
	if req.Resource.Group != routev1.GroupName || req.Resource.Resource != "routes" {
		return nil, nil, nil
	}
	route := &routev1.Route{}
	if err := json.Unmarshal(req.Object.Raw, route); err != nil {
		return nil, nil, fmt.Errorf("decoding the route: %w", err)
	}
	if len(req.OldObject.Raw) == 0 {
		return route, nil, nil
	}
	old := &routev1.Route{}
	if err := json.Unmarshal(req.OldObject.Raw, old); err != nil {
		return nil, nil, fmt.Errorf("decoding the old route: %w", err)
	}
	return route, old, nil
}

// userContext is the request context openshift-apiserver's strategy sees: user and namespace.
func userContext(ctx context.Context, req *admissionv1.AdmissionRequest) context.Context {
	return request.WithNamespace(request.WithUser(ctx, requester(req)), req.Namespace)
}

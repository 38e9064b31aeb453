package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openshift/apiserver-library-go/pkg/securitycontextconstraints/sccadmission"
	securityclient "github.com/openshift/client-go/security/clientset/versioned"
	securityinformers "github.com/openshift/client-go/security/informers/externalversions"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	coreapi "k8s.io/kubernetes/pkg/apis/core"
	_ "k8s.io/kubernetes/pkg/apis/core/install"
)

// plugin is what sccadmission.NewConstraint returns: both admission phases.
type plugin interface {
	admission.MutationInterface
	admission.ValidationInterface
	admission.InitializationValidator
}

// sccAdmission runs OpenShift's SecurityContextConstraint admission plugin on pods, wired as
// OpenShift wires it (sccadmission's informer, kube informer and authorizer initializers).
type sccAdmission struct{ plugin plugin }

func newSCCAdmission(ctx context.Context, kube kubernetes.Interface, security securityclient.Interface) (*sccAdmission, error) {
	p, ok := any(sccadmission.NewConstraint()).(plugin)
	if !ok {
		return nil, fmt.Errorf("the SCC plugin no longer implements both admission phases")
	}
	kubeInformers := informers.NewSharedInformerFactory(kube, 10*time.Minute)
	securityInformers := securityinformers.NewSharedInformerFactory(security, 10*time.Minute)
	sccInformer := securityInformers.Security().V1().SecurityContextConstraints()
	sccadmission.NewInitializer(sccInformer).Initialize(p)
	p.(interface {
		SetExternalKubeInformerFactory(informers.SharedInformerFactory)
	}).SetExternalKubeInformerFactory(kubeInformers)
	p.(interface{ SetAuthorizer(a authorizerI) }).SetAuthorizer(newReviewAuthorizer(kube))
	if err := p.ValidateInitialization(); err != nil {
		return nil, err
	}
	kubeInformers.Start(ctx.Done())
	securityInformers.Start(ctx.Done())
	return &sccAdmission{plugin: p}, nil
}

func (s *sccAdmission) admit(ctx context.Context, req *admissionv1.AdmissionRequest) verdict {
	attrs, original, err := podAttributes(req)
	if err != nil || attrs == nil {
		return verdict{err: err}
	}
	if err := s.plugin.Admit(ctx, attrs, nil); err != nil {
		return verdict{err: err}
	}
	mutated := &corev1.Pod{}
	if err := legacyscheme.Scheme.Convert(attrs.GetObject(), mutated, nil); err != nil {
		return verdict{err: fmt.Errorf("converting the admitted pod back to v1: %w", err)}
	}
	return verdict{original: original, mutated: mutated}
}

func (s *sccAdmission) validate(ctx context.Context, req *admissionv1.AdmissionRequest) verdict {
	attrs, _, err := podAttributes(req)
	if err != nil || attrs == nil {
		return verdict{err: err}
	}
	return verdict{err: s.plugin.Validate(ctx, attrs, nil)}
}

// podAttributes turns the request into the admission.Attributes the in-process plugin gets
// inside kube-apiserver: the internal Pod type, the request's user.
func podAttributes(req *admissionv1.AdmissionRequest) (admission.Attributes, *corev1.Pod, error) {
	if req.Resource.Group != "" || req.Resource.Resource != "pods" {
		return nil, nil, nil
	}
	original := &corev1.Pod{}
	object, err := internalPod(req.Object.Raw, original)
	if err != nil {
		return nil, nil, err
	}
	var old runtime.Object
	if len(req.OldObject.Raw) > 0 {
		if old, err = internalPod(req.OldObject.Raw, &corev1.Pod{}); err != nil {
			return nil, nil, err
		}
	}
	dryRun := req.DryRun != nil && *req.DryRun
	attrs := admission.NewAttributesRecord(object, old,
		schema.GroupVersionKind(req.Kind), req.Namespace, req.Name,
		schema.GroupVersionResource(req.Resource), req.SubResource,
		admission.Operation(req.Operation), nil, dryRun, requester(req))
	return attrs, original, nil
}

func internalPod(raw []byte, into *corev1.Pod) (*coreapi.Pod, error) {
	if err := json.Unmarshal(raw, into); err != nil {
		return nil, fmt.Errorf("decoding the pod: %w", err)
	}
	pod := &coreapi.Pod{}
	if err := legacyscheme.Scheme.Convert(into, pod, nil); err != nil {
		return nil, fmt.Errorf("converting the pod: %w", err)
	}
	return pod, nil
}

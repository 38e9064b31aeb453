package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/klog/v2"
)

// verdict is what one webhook call decided: the object to store instead (mutating), or an error.
type verdict struct {
	original, mutated any
	err               error
}

type handler func(ctx context.Context, req *admissionv1.AdmissionRequest) verdict

// review speaks admission.k8s.io/v1 AdmissionReview around a handler. A mutated object is
// returned as the JSON patch from the request's object to it.
func review(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var in admissionv1.AdmissionReview
		if err := json.Unmarshal(body, &in); err != nil || in.Request == nil {
			http.Error(w, fmt.Sprintf("not an AdmissionReview: %v", err), http.StatusBadRequest)
			return
		}
		resp := respond(h(r.Context(), in.Request), in.Request)
		out := admissionv1.AdmissionReview{TypeMeta: in.TypeMeta, Response: resp}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}

func respond(v verdict, req *admissionv1.AdmissionRequest) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: v.err == nil}
	if v.err != nil {
		klog.V(2).Infof("%s %s %s/%s by %s: refused: %v", req.Operation, req.Resource.Resource, req.Namespace, req.Name, req.UserInfo.Username, v.err)
		resp.Result = statusOf(v.err)
		return resp
	}
	if v.mutated == nil {
		return resp
	}
	// Both sides go through the same Go type, so the patch holds the admission's changes only,
	// not differences of encoding.
	before, err := json.Marshal(v.original)
	var after []byte
	if err == nil {
		after, err = json.Marshal(v.mutated)
	}
	if err == nil {
		var patch []jsonpatch.Operation
		if patch, err = jsonpatch.CreatePatch(before, after); err == nil && len(patch) > 0 {
			resp.Patch, err = json.Marshal(patch)
			pt := admissionv1.PatchTypeJSONPatch
			resp.PatchType = &pt
		}
	}
	if err != nil {
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusInternalServerError, Message: err.Error()}
	}
	return resp
}

func statusOf(err error) *metav1.Status {
	if status, ok := err.(apierrors.APIStatus); ok {
		s := status.Status()
		return &s
	}
	return &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: err.Error()}
}

// requester is the user the API server authenticated for the request.
func requester(req *admissionv1.AdmissionRequest) user.Info {
	extra := map[string][]string{}
	for k, v := range req.UserInfo.Extra {
		extra[k] = v
	}
	return &user.DefaultInfo{Name: req.UserInfo.Username, UID: req.UserInfo.UID, Groups: req.UserInfo.Groups, Extra: extra}
}

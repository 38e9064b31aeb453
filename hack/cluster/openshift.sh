# Sourced by up.sh --openshift: what makes the local cluster decide like OpenShift where a
# sandbox pod or Route is concerned. OpenShift's real CRDs (SCC, Route, RangeAllocation), its 13
# default SCCs, and OpenShift's own admission code (hack/openshift-admission: SCC admission,
# Route validation and host assignment, the namespace UID/MCS allocator) registered by URL.
# Uses up.sh's variables and helpers (dir, bin, cache, k, run, log, wait_http, free_port).

# OpenShift's default-on admission plugins that vanilla kube-apiserver also has, and
# ServiceAccount (up.sh turns it off on the vanilla cluster).
OPENSHIFT_ADMISSION_PLUGINS=NamespaceLifecycle,ServiceAccount,OwnerReferencesPermissionEnforcement,PodNodeSelector,PodTolerationRestriction,Priority,NodeRestriction

openshift_pki() {
  (
    cd "$dir/pki"
    printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >webhook.ext
    openssl req -newkey rsa:2048 -nodes -keyout webhook.key -out webhook.csr -subj "/CN=openshift-admission" 2>/dev/null
    openssl x509 -req -in webhook.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out webhook.crt -days 2 -extfile webhook.ext 2>/dev/null
  )
}

openshift_start() {
  local crds webhook port ca
  mapfile -t crds <"$cache/openshift-crds.list"
  log "installing OpenShift's SCC, Route and RangeAllocation CRDs from github.com/openshift/api"
  for f in "${crds[@]}"; do k apply --server-side -f "$f" >/dev/null; done
  k wait --for=condition=Established crd/securitycontextconstraints.security.openshift.io \
    crd/routes.route.openshift.io crd/rangeallocations.security.internal.openshift.io --timeout=60s >/dev/null
  log "installing OpenShift's 13 default SCCs, their ClusterRoles and bindings"
  # create, not apply: apply drops the fields upstream leaves null (priority,
  # defaultAddCapabilities), which the real CRD requires (nullable).
  k create -f "$here/manifests/openshift-default-sccs.yaml" >/dev/null

  webhook=$(cat "$cache/openshift-admission.path")
  port=$(free_port)
  log "starting the OpenShift admission webhook on 127.0.0.1:$port"
  run openshift-admission "$webhook" --kubeconfig="$kubeconfig" --listen="127.0.0.1:$port" \
    --tls-cert="$dir/pki/webhook.crt" --tls-key="$dir/pki/webhook.key" --v=2
  wait_http openshift-admission "https://127.0.0.1:$port/healthz" --cacert "$dir/pki/ca.crt"
  echo "OPENSHIFT_ADMISSION_PORT=$port" >>"$dir/ports.env"

  ca=$(base64 -w0 <"$dir/pki/ca.crt")
  local url="https://127.0.0.1:$port"
  # The SCC plugin may wait ~10 s for a namespace's annotations; Route checks ask the API
  # server for SubjectAccessReviews. Fail closed, as in-process admission does.
  k apply -f - >/dev/null <<YAML
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: openshift-admission}
webhooks:
- name: scc.admission.security.openshift.io
  clientConfig: {url: "$url/scc/mutate", caBundle: "$ca"}
  rules: [{apiGroups: [""], apiVersions: [v1], resources: [pods, pods/ephemeralcontainers], operations: [CREATE, UPDATE]}]
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 30
  reinvocationPolicy: IfNeeded
- name: routes.admission.route.openshift.io
  clientConfig: {url: "$url/route/mutate", caBundle: "$ca"}
  rules: [{apiGroups: [route.openshift.io], apiVersions: [v1], resources: [routes], operations: [CREATE, UPDATE]}]
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 15
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingWebhookConfiguration
metadata: {name: openshift-admission}
webhooks:
- name: scc.admission.security.openshift.io
  clientConfig: {url: "$url/scc/validate", caBundle: "$ca"}
  rules: [{apiGroups: [""], apiVersions: [v1], resources: [pods, pods/ephemeralcontainers], operations: [CREATE, UPDATE]}]
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 30
- name: routes.admission.route.openshift.io
  clientConfig: {url: "$url/route/validate", caBundle: "$ca"}
  rules: [{apiGroups: [route.openshift.io], apiVersions: [v1], resources: [routes, routes/status], operations: [CREATE, UPDATE]}]
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 15
YAML
}

# The agent-sandbox controller as it runs on a cluster: its own ServiceAccount with the RBAC its
# Helm chart gives it, not system:masters, so SCC `use` checks on the pods it creates mean
# something. Writes the kubeconfig it runs with to $dir/controller.kubeconfig.
openshift_controller_identity() {
  local chart token
  chart=$(dirname "$(dirname "$crds")")/helm
  log "agent-sandbox-controller identity: ServiceAccount agent-sandbox-system/agent-sandbox-controller, RBAC from $chart"
  "$bin/helm-$HELM_VERSION" template agent-sandbox "$chart" --namespace agent-sandbox-system --set namespace.create=false --set image.tag="$AGENT_SANDBOX_VERSION" \
    --show-only templates/serviceaccount.yaml --show-only templates/rbac.generated.yaml \
    --show-only templates/clusterrolebinding.yaml --show-only templates/role.yaml \
    --show-only templates/rolebinding.yaml | k apply -f - >/dev/null
  token=$(k create token agent-sandbox-controller -n agent-sandbox-system --duration=48h)
  cat >"$dir/controller.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$api_port", certificate-authority: "$dir/pki/ca.crt"}
users:
- name: agent-sandbox-controller
  user: {token: "$token"}
contexts:
- name: local
  context: {cluster: local, user: agent-sandbox-controller}
current-context: local
KC
}

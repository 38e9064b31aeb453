{{- define "driver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "driver.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "driver.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "driver.labels" -}}
app.kubernetes.io/name: {{ include "driver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "driver.selector" -}}
app.kubernetes.io/name: {{ include "driver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "driver.sandboxNamespace" -}}
{{- default .Release.Namespace .Values.sandboxNamespace -}}
{{- end -}}

{{- define "driver.socketDir" -}}/var/run/openshell{{- end -}}
{{- define "driver.socket" -}}/var/run/openshell/driver/driver.sock{{- end -}}

{{/* The driver's image (also the launcher's): repository:tag, pinned by @digest when set. */}}
{{- define "driver.image" -}}
{{- $i := .Values.driver.image -}}
{{- printf "%s:%s" $i.repository ($i.tag | default .Chart.AppVersion) -}}
{{- with $i.digest }}@{{ . }}{{ end -}}
{{- end -}}

{{/* The driver container, shared by the Deployment and the sidecar ConfigMap. */}}
{{- define "driver.container" -}}
name: driver
image: {{ include "driver.image" . | quote }}
imagePullPolicy: {{ .Values.driver.image.pullPolicy }}
args:
  - serve
  - --socket={{ include "driver.socket" . }}
  - --namespace={{ include "driver.sandboxNamespace" . }}
  - --workspace-mode={{ .Values.workspaceMode }}
  - --workspace-namespace-prefix={{ .Values.workspaceNamespacePrefix }}
  - --gateway-id={{ .Values.driver.gatewayId }}
  - --gateway-endpoint={{ default (printf "https://%s.%s.svc:%d" (include "driver.fullname" .) .Release.Namespace (int .Values.gateway.port)) .Values.driver.gatewayEndpoint }}
  - --default-image={{ .Values.driver.defaultImage }}
  - --supervisor-image={{ .Values.driver.supervisorImage }}
  - --supervisor-sideload={{ .Values.driver.supervisorSideload }}
  - --launcher-image={{ include "driver.image" . }}
  - --sandbox-auth={{ .Values.driver.sandboxAuth }}
  - --app-armor-profile={{ .Values.driver.appArmorProfile }}
  {{- if .Values.driver.enableUserNamespaces }}
  - --enable-user-namespaces
  {{- end }}
  {{- with .Values.driver.providerSpiffeSocket }}
  - --provider-spiffe-socket={{ . }}
  {{- end }}
  {{- with .Values.driver.workspaceVolume }}
  - --workspace-volume={{ .mode }}
  - --workspace-size={{ .size }}
  - --workspace-access-mode={{ .accessMode }}
  {{- with .storageClass }}
  - --workspace-storage-class={{ . }}
  {{- end }}
  {{- if .retain }}
  - --workspace-retain
  {{- end }}
  {{- end }}
  {{- with .Values.driver.hostGatewayIp }}
  - --host-gateway-ip={{ . }}
  {{- end }}
  {{- if .Values.driver.gatewayIngressOnly }}
  {{- $selector := list }}
  {{- range $k, $v := (default (dict "app.kubernetes.io/name" (include "driver.name" .) "app.kubernetes.io/instance" .Release.Name) .Values.driver.gatewayPodSelector) }}
  {{- $selector = append $selector (printf "%s=%s" $k $v) }}
  {{- end }}
  - --gateway-ingress-only
  - --gateway-namespace={{ default .Release.Namespace .Values.driver.gatewayNamespace }}
  - --gateway-pod-selector={{ join "," $selector }}
  {{- end }}
  {{- if eq .Values.driver.topology "sidecar" }}
  - --topology=sidecar
  - --sidecar-proxy-uid={{ .Values.driver.sidecarProxyUid }}
  - --sidecar-process-binary-aware-network-policy={{ .Values.driver.sidecarProcessBinaryAwareNetworkPolicy }}
  {{- end }}
  {{- with .Values.driver.httpsProxy }}
  - --https-proxy={{ . }}
  {{- end }}
  {{- with .Values.driver.noProxy }}
  - --no-proxy={{ . }}
  {{- end }}
  {{- with .Values.driver.proxyAuthSecretName }}
  - --proxy-auth-secret-name={{ . }}
  - --proxy-auth-secret-key={{ $.Values.driver.proxyAuthSecretKey }}
  {{- end }}
  {{- if .Values.driver.proxyAuthAllowInsecure }}
  - --proxy-auth-allow-insecure
  {{- end }}
  {{- if .Values.driver.proxyConnectByHostname }}
  - --proxy-connect-by-hostname
  {{- end }}
  {{- with .Values.driver.clientTlsSecret }}
  - --client-tls-secret={{ . }}
  {{- end }}
  {{- with .Values.driver.imagePullSecrets }}
  - --image-pull-secrets={{ join "," . }}
  {{- end }}
  {{- if eq .Values.workspaceMode "operator" }}
  {{- with .Values.operatorNamespaceLabel }}
  - --operator-namespace-label={{ . }}
  {{- end }}
  {{- if .Values.operatorNamespaces }}
  - --operator-namespace-file={{ include "driver.operatorNamespaceFile" . }}
  {{- end }}
  {{- end }}
  - --kube-api-timeout={{ .Values.driver.kubeApiTimeout }}
  - --default-ttl={{ .Values.driver.defaultTtl }}
  - --expiry-policy={{ .Values.driver.expiryPolicy }}
  - --metrics-bind-address=0.0.0.0:{{ .Values.metrics.port }}
  - --log-format={{ .Values.driver.logFormat }}
  - --log-level={{ .Values.driver.logLevel }}
  {{- if .Values.openshift.enabled }}
  - --platform=openshift
  - --scc-grant-cluster-role={{ include "driver.fullname" . }}-use-scc
  {{- if eq .Values.driver.topology "sidecar" }}
  - --scc={{ include "driver.scc" . }}
  {{- end }}
  {{- end }}
  {{- with .Values.driver.sandboxServiceAccount }}
  - --sandbox-service-account={{ . }}
  {{- end }}
  {{- if include "driver.warmPool" . }}
  - --warm-pool-config={{ include "driver.warmPoolFile" . }}
  {{- end }}
  {{- range .Values.driver.extraArgs }}
  - {{ . | quote }}
  {{- end }}
ports:
  - {name: metrics, containerPort: {{ .Values.metrics.port }}, protocol: TCP}
livenessProbe:
  httpGet: {path: /healthz, port: metrics}
  periodSeconds: 10
readinessProbe:
  httpGet: {path: /readyz, port: metrics}
  periodSeconds: 5
resources:
  {{- toYaml .Values.driver.resources | nindent 2 }}
securityContext:
  {{- toYaml .Values.containerSecurityContext | nindent 2 }}
volumeMounts:
  - {name: driver-socket, mountPath: {{ include "driver.socketDir" . }}}
  {{- if include "driver.operatorFile" . }}
  - {name: operator-namespaces, mountPath: /etc/openshell-operator, readOnly: true}
  {{- end }}
  {{- if include "driver.warmPool" . }}
  - {name: warm-pool, mountPath: /etc/openshell-warm-pool, readOnly: true}
  {{- end }}
{{- end -}}

{{/* Warm pool profiles: a ConfigMap the driver reads at start. */}}
{{- define "driver.warmPool" -}}
{{- if .Values.driver.warmPool.profiles }}true{{ end -}}
{{- end -}}
{{- define "driver.warmPoolFile" -}}/etc/openshell-warm-pool/profiles.yaml{{- end -}}
{{- define "driver.warmPoolVolume" -}}
name: warm-pool
configMap: {name: {{ include "driver.fullname" . }}-warm-pool}
{{- end -}}

{{/* Operator mode with listed namespaces: the allowlist file, from a ConfigMap the driver re-reads. */}}
{{- define "driver.operatorFile" -}}
{{- if and (eq .Values.workspaceMode "operator") .Values.operatorNamespaces }}true{{ end -}}
{{- end -}}
{{- define "driver.operatorNamespaceFile" -}}/etc/openshell-operator/namespaces.json{{- end -}}
{{- define "driver.operatorVolume" -}}
name: operator-namespaces
configMap: {name: {{ include "driver.fullname" . }}-operator-namespaces}
{{- end -}}

{{/* The SCC sandbox pods run under: one per topology, so both can be installed. */}}
{{- define "driver.scc" -}}
{{- if eq .Values.driver.topology "sidecar" }}openshell-sandbox-sidecar{{ else }}openshell-sandbox{{ end }}
{{- end }}

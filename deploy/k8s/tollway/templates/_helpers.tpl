{{/* Names, labels and the pieces every service shares. */}}

{{- define "tollway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tollway.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* <fullname>-<service>; call with (dict "root" $ "service" "edge"). */}}
{{- define "tollway.serviceName" -}}
{{- printf "%s-%s" (include "tollway.fullname" .root | trunc 54 | trimSuffix "-") .service }}
{{- end }}

{{- define "tollway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tollway.labels" -}}
helm.sh/chart: {{ include "tollway.chart" . }}
app.kubernetes.io/name: {{ include "tollway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: tollway
{{- end }}

{{/* Selector labels of one service; call with (dict "root" $ "service" "edge"). */}}
{{- define "tollway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tollway.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{- define "tollway.componentLabels" -}}
{{ include "tollway.labels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end }}

{{/* The router's ServiceAccount when it signs in with AKS Workload Identity. */}}
{{- define "tollway.routerServiceAccountName" -}}
{{- printf "%s-router" (include "tollway.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Whether this service's pods sign in with AKS Workload Identity (the router, when on). */}}
{{- define "tollway.workloadIdentity" -}}
{{- if and (eq .service "router") .root.Values.router.azureWorkloadIdentity.enabled }}true{{ end }}
{{- end }}

{{- define "tollway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tollway.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image of one service. */}}
{{- define "tollway.image" -}}
{{- $values := index .root.Values .service }}
{{- $tag := $values.image.tag | default .root.Values.image.tag | default .root.Chart.AppVersion }}
{{- if .root.Values.image.registry }}
{{- printf "%s/%s:%s" (trimSuffix "/" .root.Values.image.registry) $values.image.repository $tag }}
{{- else }}
{{- printf "%s:%s" $values.image.repository $tag }}
{{- end }}
{{- end }}

{{/* The NATS URL: natsUrl, or the Service of the bundled NATS chart (named as that chart
names it). */}}
{{- define "tollway.natsUrl" -}}
{{- if .Values.natsUrl }}
{{- .Values.natsUrl }}
{{- else if .Values.nats.enabled }}
{{- $name := "" }}
{{- if .Values.nats.fullnameOverride }}
{{- $name = .Values.nats.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $chartName := default "nats" .Values.nats.nameOverride }}
{{- if contains $chartName .Release.Name }}
{{- $name = .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name = printf "%s-%s" .Release.Name $chartName | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- printf "nats://%s:4222" $name }}
{{- else }}
{{- fail "set natsUrl, or nats.enabled=true to deploy NATS with the release" }}
{{- end }}
{{- end }}

{{- define "tollway.generatedSecretName" -}}
{{- printf "%s-generated" (include "tollway.fullname" .) }}
{{- end }}

{{/* TOLLWAY_<SERVICE>_TRUSTED_HOSTS: localhost, the Service's names in the cluster, the edge's
ingress hosts and the service's trustedHosts, as a JSON list. */}}
{{- define "tollway.trustedHostsEnv" -}}
{{- $name := include "tollway.serviceName" . }}
{{- $ns := .root.Release.Namespace }}
{{- $values := index .root.Values .service }}
{{- $hosts := list "localhost" $name (printf "%s.%s" $name $ns) (printf "%s.%s.svc" $name $ns) (printf "%s.%s.svc.cluster.local" $name $ns) }}
{{- if and (eq .service "edge") $values.ingress.enabled }}
{{- $hosts = concat $hosts $values.ingress.hosts }}
{{- end }}
{{- $hosts = concat $hosts $values.trustedHosts }}
- name: {{ printf "TOLLWAY_%s_TRUSTED_HOSTS" (upper .service) }}
  value: {{ $hosts | uniq | toJson | quote }}
{{- end }}

{{- define "tollway.endpointsSecretName" -}}
{{- printf "%s-endpoints" (include "tollway.fullname" .) }}
{{- end }}

{{/* secretKeyRef name and key of an endpoint (redis, clickhouse): its existingSecret, or the
chart's endpoints Secret. */}}
{{- define "tollway.endpointRef" -}}
{{- if .endpoint.existingSecret -}}
name: {{ .endpoint.existingSecret }}
key: {{ .endpoint.existingSecretKey }}
{{- else -}}
name: {{ include "tollway.endpointsSecretName" .root }}
key: {{ .key }}
{{- end }}
{{- end }}

{{- define "tollway.configMapName" -}}
{{- .Values.existingConfigMap | default (printf "%s-config" (include "tollway.fullname" .)) }}
{{- end }}

{{/* TOLLWAY_<SERVICE>_* variables every service gets: NATS, JetStream replicas, logging, then
the service's `settings` map. */}}
{{- define "tollway.commonEnv" -}}
{{- $prefix := printf "TOLLWAY_%s_" (upper .service) }}
{{- $values := index .root.Values .service -}}
- name: {{ $prefix }}NATS__URL
  value: {{ include "tollway.natsUrl" .root | quote }}
- name: {{ $prefix }}NATS__REPLICAS
  value: {{ .root.Values.jetstreamReplicas | quote }}
{{- /* The closed bus: each service its own NATS user, with only its own password. */}}
- name: {{ $prefix }}NATS__USER
  value: {{ .service | quote }}
- name: {{ $prefix }}NATS__PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.natsAuth.secretName }}
      key: {{ .service }}
{{- if .root.Values.natsTls.enabled }}
- name: {{ $prefix }}NATS__TLS_CA_FILE
  value: /etc/tollway-nats-ca/ca.crt
{{- end }}
- name: {{ $prefix }}LOG__LEVEL
  value: {{ .root.Values.log.level | quote }}
- name: {{ $prefix }}LOG__JSON_FORMAT
  value: {{ .root.Values.log.jsonFormat | quote }}
{{- range $key, $value := $values.settings }}
{{- /* YAML numbers reach templates as float64, which print as 8.388608e+06: whole numbers
are printed as integers. */}}
{{- $text := toString $value }}
{{- if and (kindIs "float64" $value) (eq (float64 (int64 $value)) $value) }}
{{- $text = int64 $value | toString }}
{{- end }}
- name: {{ printf "%s%s" $prefix (upper $key) }}
  value: {{ $text | quote }}
{{- end }}
{{- with $values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Pod-level fields every service shares. */}}
{{- define "tollway.podCommon" -}}
{{- $values := index .root.Values .service -}}
{{- if include "tollway.workloadIdentity" . }}
serviceAccountName: {{ include "tollway.routerServiceAccountName" .root }}
{{- else }}
serviceAccountName: {{ include "tollway.serviceAccountName" .root }}
{{- end }}
# The AKS Workload Identity webhook mounts its own projected token where it is on.
automountServiceAccountToken: false
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
terminationGracePeriodSeconds: {{ $values.terminationGracePeriodSeconds }}
{{- with .root.Values.image.pullSecrets }}
imagePullSecrets:
  {{- range . }}
  - name: {{ . }}
  {{- end }}
{{- end }}
{{- with $values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with $values.topologySpreadConstraints }}
topologySpreadConstraints:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/* Pod template metadata: selector labels, podLabels, podAnnotations and a checksum of the
endpoints Secret so that pods roll when an endpoint changes. */}}
{{- define "tollway.podMetadata" -}}
{{- $values := index .root.Values .service -}}
labels:
  {{- include "tollway.selectorLabels" . | nindent 2 }}
  app.kubernetes.io/part-of: tollway
  app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
  {{- if include "tollway.workloadIdentity" . }}
  azure.workload.identity/use: "true"
  {{- end }}
  {{- with $values.podLabels }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
annotations:
  checksum/endpoints: {{ include (print .root.Template.BasePath "/secret.yaml") .root | sha256sum }}
  {{- with $values.podAnnotations }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* The container fields every service shares. */}}
{{- define "tollway.containerCommon" -}}
{{- $values := index .root.Values .service -}}
image: {{ include "tollway.image" . }}
imagePullPolicy: {{ .root.Values.image.pullPolicy }}
securityContext:
  {{- toYaml .root.Values.securityContext | nindent 2 }}
resources:
  {{- toYaml $values.resources | nindent 2 }}
{{- end }}

{{/* Volumes every pod gets: a writable /tmp (the root file system is read-only). */}}
{{/* /tmp, and the CA that signs the NATS servers' certificate when TLS is on. */}}
{{- define "tollway.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 64Mi
{{- if .root.Values.natsTls.enabled }}
- name: nats-ca
  secret:
    secretName: {{ .root.Values.natsTls.secretName }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- end }}

{{- define "tollway.tmpMount" -}}
- name: tmp
  mountPath: /tmp
{{- if .root.Values.natsTls.enabled }}
- name: nats-ca
  mountPath: /etc/tollway-nats-ca
  readOnly: true
{{- end }}
{{- end }}

{{/* preStop: keep serving a few seconds while the endpoint is removed from Services. */}}
{{- define "tollway.preStop" -}}
lifecycle:
  preStop:
    exec:
      command: ["sleep", "5"]
{{- end }}

{{/* Router and metering have no HTTP API: their monitor server listens on metricsPort and
answers the probes (/healthz, /readyz) and Prometheus (/metrics). */}}
{{- define "tollway.monitorPort" -}}
{{- $values := index .root.Values .service -}}
ports:
  - name: metrics
    containerPort: {{ $values.metricsPort }}
    protocol: TCP
{{- end }}

{{- define "tollway.monitorEnv" -}}
{{- $prefix := printf "TOLLWAY_%s_MONITOR__" (upper .service) }}
{{- $values := index .root.Values .service -}}
- name: {{ $prefix }}ENABLED
  value: "true"
- name: {{ $prefix }}HOST
  value: "0.0.0.0"
- name: {{ $prefix }}PORT
  value: {{ $values.metricsPort | quote }}
{{- end }}

{{- define "tollway.monitorProbes" -}}
startupProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 2
  failureThreshold: 30
livenessProbe:
  httpGet:
    path: /healthz
    port: metrics
  periodSeconds: 10
  timeoutSeconds: 3
  failureThreshold: 3
readinessProbe:
  httpGet:
    path: /readyz
    port: metrics
  periodSeconds: 5
  timeoutSeconds: 3
  failureThreshold: 2
{{- end }}

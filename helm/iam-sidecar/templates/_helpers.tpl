{{/*
Names, labels and the value checks shared by every template. The sidecar container itself is in
_sidecar.tpl. Every helper takes the chart's context (`.` here, or `index .Subcharts
"iam-sidecar"` from a parent chart).
*/}}

{{- define "iam-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "iam-sidecar.fullname" -}}
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

{{- define "iam-sidecar.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "iam-sidecar.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "iam-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "iam-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The pods running the sidecar (Service, NetworkPolicy, PodDisruptionBudget). */}}
{{- define "iam-sidecar.podSelector" -}}
{{- if .Values.podSelector }}
{{- toYaml .Values.podSelector }}
{{- else }}
{{- include "iam-sidecar.selectorLabels" . }}
{{- end }}
{{- end }}

{{- define "iam-sidecar.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{- define "iam-sidecar.secretName" -}}
{{- include "iam-sidecar.fullname" . }}
{{- end }}

{{- define "iam-sidecar.snapshotConfigMapName" -}}
{{- .Values.snapshot.existingConfigMap | default (printf "%s-snapshot" (include "iam-sidecar.fullname" .)) }}
{{- end }}

{{- define "iam-sidecar.extAuthzConfigMapName" -}}
{{- .Values.extAuthz.existingConfigMap | default (printf "%s-config" (include "iam-sidecar.fullname" .)) }}
{{- end }}

{{/* The extra ext_authz listener (ext_authz.listen), or "" (Check on the Authorizer's listeners). */}}
{{- define "iam-sidecar.extAuthzListen" -}}
{{- $e := .Values.extAuthz }}
{{- if and $e.enabled $e.port }}
{{- printf "%s:%d" $e.address (int $e.port) }}
{{- end }}
{{- end }}

{{/* The extra ext_authz listener is on the pod IP: a container port, in the Service and NetworkPolicy. */}}
{{- define "iam-sidecar.extAuthzOnPodIP" -}}
{{- if hasPrefix "0.0.0.0:" (include "iam-sidecar.extAuthzListen" .) }}true{{ end }}
{{- end }}

{{/* Where Envoy sends Check inside the pod: the extra listener, else the Authorizer's TCP one. */}}
{{- define "iam-sidecar.extAuthzTarget" -}}
{{- printf "127.0.0.1:%d" (int (.Values.extAuthz.port | default .Values.authorizer.tcp.port)) }}
{{- end }}

{{/*
The --config document of the created ConfigMap: {"ext_authz": extAuthz.config}, with listen
from extAuthz.port. The pod checksum includes it (--config is read at start only).
*/}}
{{- define "iam-sidecar.extAuthzConfig" -}}
{{- $section := deepCopy .Values.extAuthz.config }}
{{- with include "iam-sidecar.extAuthzListen" . }}
{{- $_ := set $section "listen" . }}
{{- end }}
{{- dict "ext_authz" $section | toPrettyJson }}
{{- end }}

{{/* The Authorizer address the application should dial: the socket, else loopback TCP. */}}
{{- define "iam-sidecar.authorizerAddress" -}}
{{- if .Values.authorizer.unix.enabled }}
{{- printf "unix:%s/%s" (trimSuffix "/" .Values.authorizer.unix.dir) .Values.authorizer.unix.socketName }}
{{- else }}
{{- printf "127.0.0.1:%d" (int .Values.authorizer.tcp.port) }}
{{- end }}
{{- end }}

{{/*
The keys of the Secret this chart creates (from values), as "key: base64". Empty when every
secret comes from an existing Secret or is not used.
*/}}
{{- define "iam-sidecar.secretData" -}}
{{- $v := .Values }}
{{- if and $v.control.enabled $v.control.token.value (not $v.control.token.existingSecret) }}
token: {{ $v.control.token.value | b64enc | quote }}
{{- end }}
{{- if and $v.control.enabled $v.control.snapshotPublicKey.value (not $v.control.snapshotPublicKey.existingSecret) }}
snapshot-public-key.pem: {{ $v.control.snapshotPublicKey.value | b64enc | quote }}
{{- end }}
{{- if and $v.sts.keyset.value (not $v.sts.keyset.existingSecret) }}
keyset.json: {{ $v.sts.keyset.value | b64enc | quote }}
{{- end }}
{{- end }}

{{/*
Combinations the schema cannot express; each fails the render with the fix. Called by every
template that renders sidecar configuration.
*/}}
{{- define "iam-sidecar.check" -}}
{{- $v := .Values }}
{{- if not (or $v.authorizer.unix.enabled $v.authorizer.tcp.enabled) }}
{{- fail "iam-sidecar: enable authorizer.unix and/or authorizer.tcp (the Authorizer needs a listener)" }}
{{- end }}
{{- if and $v.control.enabled (not (or $v.control.token.value $v.control.token.existingSecret)) }}
{{- fail "iam-sidecar: control.enabled needs the bearer token: set control.token.value or control.token.existingSecret" }}
{{- end }}
{{- range $name, $s := dict "control.token" $v.control.token "control.snapshotPublicKey" $v.control.snapshotPublicKey "sts.keyset" $v.sts.keyset }}
{{- if and $s.value $s.existingSecret }}
{{- fail (printf "iam-sidecar: set %s.value or %s.existingSecret, not both" $name $name) }}
{{- end }}
{{- end }}
{{- if and $v.control.tls.enabled (not $v.control.tls.existingSecret) }}
{{- fail "iam-sidecar: control.tls.enabled needs control.tls.existingSecret (a kubernetes.io/tls Secret)" }}
{{- end }}
{{- if and (not $v.snapshot.enabled) (not $v.control.enabled) }}
{{- fail "iam-sidecar: with snapshot.enabled=false the snapshot must be pushed: enable control" }}
{{- end }}
{{- if and $v.snapshot.enabled (not $v.snapshot.existingConfigMap) (not $v.snapshot.content) }}
{{- fail "iam-sidecar: snapshot.content is empty: give the snapshot JSON or snapshot.existingConfigMap" }}
{{- end }}
{{- if $v.extAuthz.enabled }}
{{- if and $v.extAuthz.port $v.extAuthz.existingConfigMap }}
{{- fail "iam-sidecar: extAuthz.port is written into the created ConfigMap: with extAuthz.existingConfigMap, unset it (an extra listener is that ConfigMap's ext_authz.listen)" }}
{{- end }}
{{- if and (eq $v.extAuthz.address "0.0.0.0") (not $v.extAuthz.port) }}
{{- fail "iam-sidecar: extAuthz.address=0.0.0.0 needs extAuthz.port (the Authorizer's own listener stays on loopback)" }}
{{- end }}
{{- if not (or $v.authorizer.tcp.enabled $v.extAuthz.port) }}
{{- fail "iam-sidecar: extAuthz.enabled needs a TCP listener, since Envoy reaches the sidecar over TCP: enable authorizer.tcp (Envoy then uses 127.0.0.1:authorizer.tcp.port) or set extAuthz.port" }}
{{- end }}
{{- end }}
{{- $ports := list (int $v.health.port) }}
{{- if $v.authorizer.tcp.enabled }}{{ $ports = append $ports (int $v.authorizer.tcp.port) }}{{ end }}
{{- if $v.control.enabled }}{{ $ports = append $ports (int $v.control.port) }}{{ end }}
{{- if $v.metrics.enabled }}{{ $ports = append $ports (int $v.metrics.port) }}{{ end }}
{{- if include "iam-sidecar.extAuthzListen" . }}{{ $ports = append $ports (int $v.extAuthz.port) }}{{ end }}
{{- if ne (len $ports) (len (uniq $ports)) }}
{{- fail (printf "iam-sidecar: the sidecar's ports must differ (authorizer.tcp, control, health, metrics, extAuthz): %v" $ports) }}
{{- end }}
{{- end }}

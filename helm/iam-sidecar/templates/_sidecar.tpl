{{/*
The sidecar as named templates, so that any pod spec can include it. Each takes the chart's
context: `.` in this chart, `index .Subcharts "iam-sidecar"` in a parent chart that has this
chart as a dependency (then set `iam-sidecar.deployment.enabled=false` and
`iam-sidecar.podSelector` to labels of the parent's pods):

  {{- $iam := index .Subcharts "iam-sidecar" }}
  template:
    metadata:
      annotations:
        {{- include "iam-sidecar.podAnnotations" $iam | nindent 8 }}
    spec:
      securityContext:
        fsGroup: 10001                  # the application joins the socket's group
      containers:
        - name: app
          env:
            {{- include "iam-sidecar.appEnv" $iam | nindent 12 }}
          volumeMounts:
            {{- include "iam-sidecar.appVolumeMounts" $iam | nindent 12 }}
        {{- include "iam-sidecar.container" $iam | nindent 8 }}
      volumes:
        {{- include "iam-sidecar.volumes" $iam | nindent 8 }}

"iam-sidecar.container" renders one list item; with sidecar.nativeSidecar it carries
restartPolicy: Always and belongs under initContainers. "iam-sidecar.appVolumeMounts" is empty
when the Unix socket is off.

Fixed paths in the container (read-only root filesystem; every writable path is an emptyDir):
  /etc/iam-sidecar/snapshot   the snapshot ConfigMap, a directory holding snapshot.json (watched)
  /etc/iam-sidecar/config     with extAuthz: the --config ConfigMap, a directory holding config.json
  /etc/iam-sidecar/secrets    control-token, snapshot-public-key.pem, sts-keyset.json,
                              control-tls.crt, control-tls.key, control-client-ca.crt
  /var/lib/iam-sidecar        emptyDir; --state-dir is its subdirectory state/ (created 0700)
  authorizer.unix.dir         emptyDir shared with the application; the socket is made 0660
*/}}

{{- define "iam-sidecar.args" -}}
{{- $v := .Values }}
{{- $listen := list }}
{{- if $v.authorizer.unix.enabled }}
{{- $listen = append $listen (include "iam-sidecar.authorizerAddress" .) }}
{{- end }}
{{- if $v.authorizer.tcp.enabled }}
{{- $listen = append $listen (printf "127.0.0.1:%d" (int $v.authorizer.tcp.port)) }}
{{- end -}}
- serve
{{- if $v.snapshot.enabled }}
- --snapshot=/etc/iam-sidecar/snapshot
{{- end }}
- {{ printf "--listen=%s" (join "," $listen) | quote }}
{{- if $v.extAuthz.enabled }}
- --config=/etc/iam-sidecar/config/config.json
{{- end }}
{{- if $v.control.enabled }}
- {{ printf "--control=0.0.0.0:%d" (int $v.control.port) | quote }}
- --control-token-file=/etc/iam-sidecar/secrets/control-token
{{- if $v.control.tls.enabled }}
- --control-tls-cert=/etc/iam-sidecar/secrets/control-tls.crt
- --control-tls-key=/etc/iam-sidecar/secrets/control-tls.key
{{- if $v.control.tls.clientAuth }}
- --control-tls-client-ca=/etc/iam-sidecar/secrets/control-client-ca.crt
{{- end }}
{{- end }}
{{- if or $v.control.snapshotPublicKey.value $v.control.snapshotPublicKey.existingSecret }}
- --snapshot-public-key=/etc/iam-sidecar/secrets/snapshot-public-key.pem
{{- end }}
{{- else }}
- --control=off
{{- end }}
- --state-dir=/var/lib/iam-sidecar/state
- {{ printf "--max-snapshot-bytes=%d" (int64 $v.sidecar.maxSnapshotBytes) | quote }}
- {{ printf "--max-version-wait=%v" $v.sidecar.maxVersionWait | quote }}
- {{ printf "--drain-grace=%v" $v.sidecar.drainGrace | quote }}
- {{ printf "--health-listen=0.0.0.0:%d" (int $v.health.port) | quote }}
{{- if $v.metrics.enabled }}
- {{ printf "--metrics-listen=0.0.0.0:%d" (int $v.metrics.port) | quote }}
{{- end }}
{{- if or $v.sts.keyset.value $v.sts.keyset.existingSecret }}
- --sts-keyset=/etc/iam-sidecar/secrets/sts-keyset.json
{{- end }}
- {{ printf "--decision-log=%s" $v.decisionLog.mode | quote }}
{{- if ne $v.decisionLog.mode "off" }}
- {{ printf "--decision-log-sample=%v" $v.decisionLog.sample | quote }}
{{- with $v.decisionLog.mask }}
- {{ printf "--decision-log-mask=%s" (join "," .) | quote }}
{{- end }}
{{- end }}
- {{ printf "--log-level=%s" $v.sidecar.logLevel | quote }}
{{- range $v.sidecar.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}

{{/* One projected-volume source per secret file the sidecar reads. */}}
{{- define "iam-sidecar.secretSources" -}}
{{- $v := .Values }}
{{- $created := include "iam-sidecar.secretName" . }}
{{- $files := list }}
{{- if $v.control.enabled }}
{{- $t := $v.control.token }}
{{- $files = append $files (list ($t.existingSecret | default $created) (ternary $t.existingSecretKey "token" (not (empty $t.existingSecret))) "control-token") }}
{{- $k := $v.control.snapshotPublicKey }}
{{- if or $k.value $k.existingSecret }}
{{- $files = append $files (list ($k.existingSecret | default $created) (ternary $k.existingSecretKey "snapshot-public-key.pem" (not (empty $k.existingSecret))) "snapshot-public-key.pem") }}
{{- end }}
{{- if $v.control.tls.enabled }}
{{- $files = append $files (list $v.control.tls.existingSecret "tls.crt" "control-tls.crt") }}
{{- $files = append $files (list $v.control.tls.existingSecret "tls.key" "control-tls.key") }}
{{- if $v.control.tls.clientAuth }}
{{- $files = append $files (list $v.control.tls.existingSecret "ca.crt" "control-client-ca.crt") }}
{{- end }}
{{- end }}
{{- end }}
{{- $s := $v.sts.keyset }}
{{- if or $s.value $s.existingSecret }}
{{- $files = append $files (list ($s.existingSecret | default $created) (ternary $s.existingSecretKey "keyset.json" (not (empty $s.existingSecret))) "sts-keyset.json") }}
{{- end }}
{{- range $files }}
- secret:
    name: {{ index . 0 }}
    items:
      - key: {{ index . 1 }}
        path: {{ index . 2 }}
{{- end }}
{{- end }}

{{- define "iam-sidecar.container" -}}
{{- include "iam-sidecar.check" . }}
{{- $v := .Values -}}
- name: {{ $v.sidecar.containerName }}
  image: {{ include "iam-sidecar.image" . | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $v.sidecar.nativeSidecar }}
  restartPolicy: Always
  {{- end }}
  command: ["iam-sidecar"]
  args:
    {{- include "iam-sidecar.args" . | nindent 4 }}
  ports:
    - name: iam-health
      containerPort: {{ int $v.health.port }}
      protocol: TCP
    {{- if $v.control.enabled }}
    - name: iam-control
      containerPort: {{ int $v.control.port }}
      protocol: TCP
    {{- end }}
    {{- if $v.metrics.enabled }}
    - name: iam-metrics
      containerPort: {{ int $v.metrics.port }}
      protocol: TCP
    {{- end }}
    {{- if include "iam-sidecar.extAuthzOnPodIP" . }}
    - name: iam-ext-authz
      containerPort: {{ int $v.extAuthz.port }}
      protocol: TCP
    {{- end }}
  {{- with $v.sidecar.extraEnv }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  startupProbe:
    grpc:
      port: {{ int $v.health.port }}
      service: liveness
    periodSeconds: {{ int $v.sidecar.probes.startup.periodSeconds }}
    timeoutSeconds: {{ int $v.sidecar.probes.startup.timeoutSeconds }}
    failureThreshold: {{ int $v.sidecar.probes.startup.failureThreshold }}
  readinessProbe:
    grpc:
      port: {{ int $v.health.port }}
      service: ""
    periodSeconds: {{ int $v.sidecar.probes.readiness.periodSeconds }}
    timeoutSeconds: {{ int $v.sidecar.probes.readiness.timeoutSeconds }}
    failureThreshold: {{ int $v.sidecar.probes.readiness.failureThreshold }}
  livenessProbe:
    grpc:
      port: {{ int $v.health.port }}
      service: liveness
    periodSeconds: {{ int $v.sidecar.probes.liveness.periodSeconds }}
    timeoutSeconds: {{ int $v.sidecar.probes.liveness.timeoutSeconds }}
    failureThreshold: {{ int $v.sidecar.probes.liveness.failureThreshold }}
  {{- with $v.sidecar.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    runAsNonRoot: true
    {{- if not (kindIs "invalid" $v.sidecar.runAsUser) }}
    runAsUser: {{ int64 $v.sidecar.runAsUser }}
    {{- end }}
    {{- if not (kindIs "invalid" $v.sidecar.runAsGroup) }}
    runAsGroup: {{ int64 $v.sidecar.runAsGroup }}
    {{- end }}
    readOnlyRootFilesystem: true
    allowPrivilegeEscalation: false
    privileged: false
    capabilities:
      drop: ["ALL"]
    seccompProfile:
      type: RuntimeDefault
  terminationMessagePolicy: FallbackToLogsOnError
  volumeMounts:
    {{- if $v.authorizer.unix.enabled }}
    - name: iam-sidecar-socket
      mountPath: {{ $v.authorizer.unix.dir }}
    {{- end }}
    - name: iam-sidecar-state
      mountPath: /var/lib/iam-sidecar
    {{- if $v.snapshot.enabled }}
    - name: iam-sidecar-snapshot
      mountPath: /etc/iam-sidecar/snapshot
      readOnly: true
    {{- end }}
    {{- if $v.extAuthz.enabled }}
    - name: iam-sidecar-config
      mountPath: /etc/iam-sidecar/config
      readOnly: true
    {{- end }}
    {{- if include "iam-sidecar.secretSources" . }}
    - name: iam-sidecar-secrets
      mountPath: /etc/iam-sidecar/secrets
      readOnly: true
    {{- end }}
{{- end }}

{{- define "iam-sidecar.volumes" -}}
{{- $v := .Values -}}
- name: iam-sidecar-state
  emptyDir:
    sizeLimit: {{ $v.sidecar.stateDirSizeLimit | quote }}
{{- if $v.authorizer.unix.enabled }}
- name: iam-sidecar-socket
  emptyDir:
    sizeLimit: 1Mi
{{- end }}
{{- if $v.snapshot.enabled }}
- name: iam-sidecar-snapshot
  configMap:
    name: {{ include "iam-sidecar.snapshotConfigMapName" . }}
    items:
      - key: {{ ternary $v.snapshot.existingConfigMapKey "snapshot.json" (not (empty $v.snapshot.existingConfigMap)) }}
        path: snapshot.json
{{- end }}
{{- if $v.extAuthz.enabled }}
- name: iam-sidecar-config
  configMap:
    name: {{ include "iam-sidecar.extAuthzConfigMapName" . }}
    items:
      - key: {{ ternary $v.extAuthz.existingConfigMapKey "config.json" (not (empty $v.extAuthz.existingConfigMap)) }}
        path: config.json
{{- end }}
{{- with include "iam-sidecar.secretSources" . | trim }}
- name: iam-sidecar-secrets
  projected:
    sources:
      {{- . | nindent 6 }}
{{- end }}
{{- end }}

{{/* The application container's mount of the socket directory (empty without the socket). */}}
{{- define "iam-sidecar.appVolumeMounts" -}}
{{- if .Values.authorizer.unix.enabled -}}
- name: iam-sidecar-socket
  mountPath: {{ .Values.authorizer.unix.dir }}
{{- end }}
{{- end }}

{{/* IAM_SIDECAR_AUTHORIZER_ADDR: the address the application dials (not a `serve` flag). */}}
{{- define "iam-sidecar.appEnv" -}}
- name: IAM_SIDECAR_AUTHORIZER_ADDR
  value: {{ include "iam-sidecar.authorizerAddress" . | quote }}
{{- end }}

{{/*
The pod annotation that restarts pods when the sidecar's configuration or a created Secret
changes. The snapshot is left out on purpose: the sidecar picks ConfigMap updates up itself, and
a policy change must not restart every application pod. The ext_authz --config is in: it is read
at start only, so a route change must roll the pods. Existing Secrets and an existing ext_authz
ConfigMap are not seen: restart the pods after changing the STS keyset, the public key or the
routes there (the token is re-read).
*/}}
{{- define "iam-sidecar.podAnnotations" -}}
{{- $config := dict "args" (include "iam-sidecar.args" .) "secret" (include "iam-sidecar.secretData" .) -}}
{{- if .Values.extAuthz.enabled }}
{{- if .Values.extAuthz.existingConfigMap }}
{{- $_ := set $config "extAuthz" (printf "%s/%s" .Values.extAuthz.existingConfigMap .Values.extAuthz.existingConfigMapKey) }}
{{- else }}
{{- $_ := set $config "extAuthz" (include "iam-sidecar.extAuthzConfig" .) }}
{{- end }}
{{- end }}
checksum/iam-sidecar-config: {{ toJson $config | sha256sum | quote }}
{{- end }}

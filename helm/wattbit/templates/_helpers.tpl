{{/* Names ------------------------------------------------------------------------------ */}}

{{- define "wattbit.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Fully qualified app name, at most 63 characters (DNS label). Room is left for the longest
suffix the chart appends ("-extender-snippet").
*/}}
{{- define "wattbit.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 46 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 46 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 46 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wattbit.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "wattbit.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "wattbit.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "wattbit.schedulerFullname" -}}
{{- printf "%s-scheduler" (include "wattbit.fullname" .) -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------------------- */}}

{{- define "wattbit.labels" -}}
helm.sh/chart: {{ include "wattbit.chart" . }}
app.kubernetes.io/name: {{ include "wattbit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: wattbit
{{- end -}}

{{/* Selector labels of the wattbit (extender/planner) pods. */}}
{{- define "wattbit.selectorLabels" -}}
app.kubernetes.io/name: {{ include "wattbit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: extender
{{- end -}}

{{/* Selector labels of the second kube-scheduler's pods (mode a). */}}
{{- define "wattbit.schedulerSelectorLabels" -}}
app.kubernetes.io/name: {{ include "wattbit.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scheduler
{{- end -}}

{{/* Images ----------------------------------------------------------------------------- */}}

{{- define "wattbit.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
kube-scheduler image: scheduler.image.tag, else the API server's vMAJOR.MINOR.PATCH (a
provider suffix such as "-eks-…" or "+k3s1" dropped), so the scheduler matches the cluster.
*/}}
{{- define "wattbit.schedulerImage" -}}
{{- $tag := .Values.scheduler.image.tag -}}
{{- if not $tag -}}
{{- $v := semver .Capabilities.KubeVersion.Version -}}
{{- $tag = printf "v%d.%d.%d" $v.Major $v.Minor $v.Patch -}}
{{- end -}}
{{- printf "%s:%s" .Values.scheduler.image.repository $tag -}}
{{- end -}}

{{/* The extender ---------------------------------------------------------------------- */}}

{{- define "wattbit.extenderUrl" -}}
{{- if .Values.extender.urlPrefix -}}
{{- .Values.extender.urlPrefix -}}
{{- else -}}
{{- printf "http://%s.%s.svc:%d" (include "wattbit.fullname" .) .Release.Namespace (int .Values.ports.extender) -}}
{{- end -}}
{{- end -}}

{{/*
The `extenders:` list of a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1), as in
k8s-extender/fixtures/scheduler-config-example.yaml. Used by mode (a)'s scheduler config, by
mode (b)'s snippet ConfigMap and by NOTES.txt.
*/}}
{{- define "wattbit.extenders" -}}
extenders:
  - urlPrefix: {{ include "wattbit.extenderUrl" . | quote }}
    filterVerb: filter
    prioritizeVerb: prioritize
    weight: {{ int .Values.extender.weight }}
    nodeCacheCapable: true
    ignorable: true
    httpTimeout: {{ .Values.extender.httpTimeout | quote }}
    enableHTTPS: false
    managedResources:
      {{- range .Values.extender.managedResources }}
      - name: {{ . | quote }}
        ignoredByScheduler: false
      {{- end }}
{{- end -}}

{{/* Configuration ---------------------------------------------------------------------- */}}

{{- define "wattbit.secretsRoot" -}}/var/run/secrets/wattbit{{- end -}}

{{- define "wattbit.drTokenFile" -}}
{{- with .Values.drApi.tokenSecret -}}
{{- if .name -}}
{{- printf "%s/dr-token/%s" (include "wattbit.secretsRoot" $) .key -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "wattbit.webhookCertDir" -}}
{{- printf "%s/webhook-tls" (include "wattbit.secretsRoot" .) -}}
{{- end -}}

{{/*
forecast.providers with every `<setting>: {secretKeyRef: {name, key}}` replaced by
`<setting>_file: /var/run/secrets/wattbit/forecast/<name>/<key>`; output is YAML.
*/}}
{{- define "wattbit.forecastProviders" -}}
{{- $root := include "wattbit.secretsRoot" . -}}
{{- $out := dict -}}
{{- range $region, $settings := .Values.forecast.providers -}}
{{- $entry := dict -}}
{{- range $key, $value := $settings -}}
{{- if and (kindIs "map" $value) (hasKey $value "secretKeyRef") -}}
{{- $ref := $value.secretKeyRef -}}
{{- $_ := set $entry (printf "%s_file" $key) (printf "%s/forecast/%s/%s" $root $ref.name $ref.key) -}}
{{- else -}}
{{- $_ := set $entry $key $value -}}
{{- end -}}
{{- end -}}
{{- $_ := set $out $region $entry -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* Names of the Secrets the forecast providers reference, one per line, sorted, unique. */}}
{{- define "wattbit.forecastSecretNames" -}}
{{- $names := list -}}
{{- if not .Values.forecast.file -}}
{{- range $region, $settings := .Values.forecast.providers -}}
{{- range $key, $value := $settings -}}
{{- if and (kindIs "map" $value) (hasKey $value "secretKeyRef") -}}
{{- $names = append $names $value.secretKeyRef.name -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $names | uniq | sortAlpha | join "\n" -}}
{{- end -}}

{{/*
config.yaml of `wattbit serve` (the keys of the service's contract; see the chart README).
*/}}
{{- define "wattbit.configYaml" -}}
{{- $forecast := dict -}}
{{- if .Values.forecast.file -}}
{{- $_ := set $forecast "file" .Values.forecast.file -}}
{{- else -}}
{{- $_ := set $forecast "providers" (include "wattbit.forecastProviders" . | fromYaml) -}}
{{- end -}}
{{- $drToken := include "wattbit.drTokenFile" . -}}
{{- $cfg := dict
  "sites" "sites.yaml"
  "policy" (ternary "/etc/wattbit/policy.yaml" .Values.policy (not (empty .Values.policyInline)))
  "forecast" $forecast
  "server" (dict
    "host" "0.0.0.0"
    "port" (int .Values.ports.extender)
    "metrics_port" (int .Values.ports.metrics)
    "dr_token_file" (ternary $drToken nil (ne $drToken "")))
  "kubernetes" (dict
    "managed_selector" .Values.kubernetes.managedSelector
    "site_label" .Values.kubernetes.siteLabel
    "resync_seconds" (int .Values.kubernetes.resyncSeconds))
  "leader_election" (dict
    "enabled" .Values.leaderElection.enabled
    "lease_name" .Values.leaderElection.leaseName
    "lease_duration_seconds" (int .Values.leaderElection.leaseDurationSeconds)
    "renew_seconds" (int .Values.leaderElection.renewSeconds))
  "planner" (dict
    "replan_seconds" (int .Values.planner.replanSeconds)
    "debounce_seconds" (int .Values.planner.debounceSeconds)
    "time_limit_seconds" (int .Values.planner.timeLimitSeconds)
    "max_plan_age_minutes" (int .Values.planner.maxPlanAgeMinutes))
-}}
{{- if .Values.webhook.enabled -}}
{{- $certDir := include "wattbit.webhookCertDir" . -}}
{{- $_ := set $cfg "webhook" (dict
    "port" (int .Values.ports.webhook)
    "cert_file" (printf "%s/tls.crt" $certDir)
    "key_file" (printf "%s/tls.key" $certDir)) -}}
{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}

{{- define "wattbit.sitesYaml" -}}
{{- toYaml (dict "sites" .Values.sites) -}}
{{- end -}}

{{/*
PodDisruptionBudget spec for a Deployment of `replicas` pods whose standbys are Ready. More
than one replica: keep one serving through voluntary disruptions (drains). One replica:
maxUnavailable 1, so the budget never blocks a drain (minAvailable 1 over a single pod makes
`kubectl drain` hang). Crash-looping pods may always be evicted.
*/}}
{{- define "wattbit.pdbSpec" -}}
{{- if gt (int .replicas) 1 -}}
minAvailable: 1
{{- else -}}
maxUnavailable: 1
{{- end }}
unhealthyPodEvictionPolicy: AlwaysAllow
selector:
  matchLabels:
    {{- .selector | nindent 4 }}
{{- end -}}

{{- define "wattbit.webhookSecretName" -}}
{{- if .Values.webhook.certManager -}}
{{- printf "%s-webhook-tls" (include "wattbit.fullname" .) -}}
{{- else -}}
{{- .Values.webhook.existingSecret -}}
{{- end -}}
{{- end -}}

{{/* kubernetes.managedSelector ("k=v[,k=v]") as matchLabels YAML. */}}
{{- define "wattbit.managedMatchLabels" -}}
{{- range (splitList "," .Values.kubernetes.managedSelector) }}
{{- $kv := splitList "=" (trim .) }}
{{ index $kv 0 | trim }}: {{ index $kv 1 | trim | quote }}
{{- end }}
{{- end -}}

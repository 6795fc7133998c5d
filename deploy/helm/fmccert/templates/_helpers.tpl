{{/* The chart's name, or nameOverride. */}}
{{- define "fmccert.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's resource name: fullnameOverride, else RELEASE-fmccert (or RELEASE when it already holds the name). */}}
{{- define "fmccert.fullname" -}}
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

{{- define "fmccert.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fmccert.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fmccert.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "fmccert.labels" -}}
helm.sh/chart: {{ include "fmccert.chart" . }}
{{ include "fmccert.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "fmccert.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "fmccert.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret with the credentials: the one named by secrets.existingSecret, else the chart's. */}}
{{- define "fmccert.secretName" -}}
{{- default (include "fmccert.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "fmccert.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

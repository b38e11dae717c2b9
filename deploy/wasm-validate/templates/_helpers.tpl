{{- define "wv.name" -}}{{ .Release.Name }}-wasm-validate{{- end -}}
{{- define "wv.labels" -}}
app.kubernetes.io/name: wasm-validate
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end -}}
{{- define "wv.selector" -}}
app.kubernetes.io/name: wasm-validate
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
{{- define "wv.secret" -}}{{ if or .Values.tls.certManager .Values.tls.generate }}{{ include "wv.name" . }}-tls{{ else }}{{ required "tls.secretName is required without cert-manager or tls.generate" .Values.tls.secretName }}{{ end }}{{- end -}}

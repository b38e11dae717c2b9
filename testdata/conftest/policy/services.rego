package kubernetes.services

import rego.v1

violation contains msg if {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("Service %s: NodePort is not allowed", [input.metadata.name])
}

package main

import rego.v1

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s: containers must not run as root", [input.metadata.name])
}

deny_latest contains {"msg": msg} if {
	input.kind == "Deployment"
	some container in input.spec.template.spec.containers
	endswith(container.image, ":latest")
	msg := sprintf("Deployment %s: image %s uses the latest tag", [input.metadata.name, container.image])
}

warn contains msg if {
	input.kind == "Deployment"
	input.spec.replicas < 2
	msg := sprintf("Deployment %s has a single replica", [input.metadata.name])
}

# A Conftest policy for combine mode (--combine): every Deployment needs a
# Service whose selector matches its Pods' labels, across all the files.
package main

import rego.v1

deny contains msg if {
	some doc in input
	doc.contents.kind == "Deployment"
	labels := doc.contents.spec.template.metadata.labels
	not served(labels)
	msg := sprintf("Deployment %s (%s) has no Service selecting its Pods", [doc.contents.metadata.name, doc.path])
}

served(labels) if {
	some doc in input
	doc.contents.kind == "Service"
	selector := doc.contents.spec.selector
	every key, value in selector {
		labels[key] == value
	}
}

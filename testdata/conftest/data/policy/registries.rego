# A Conftest policy that reads `data` (--data): images must come from a
# registry the data files allow.
package main

import rego.v1

deny contains msg if {
	some container in input.spec.template.spec.containers
	not allowed(container.image)
	msg := sprintf("%s uses %s, from a registry not in data.registries.allowed", [input.metadata.name, container.image])
}

allowed(image) if {
	some prefix in data.registries.allowed
	startswith(image, prefix)
}

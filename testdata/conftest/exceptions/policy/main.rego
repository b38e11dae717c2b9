# Conftest exceptions: `exception` names the rules (after their deny_
# prefix) that do not apply to an input.
package main

import rego.v1

deny_latest_tag contains msg if {
	some container in input.spec.template.spec.containers
	endswith(container.image, ":latest")
	msg := sprintf("%s uses a latest tag", [input.metadata.name])
}

deny_no_team contains msg if {
	not input.metadata.labels.team
	msg := sprintf("%s has no team label", [input.metadata.name])
}

exception contains rules if {
	input.metadata.name == "legacy"
	rules := ["latest_tag"]
}

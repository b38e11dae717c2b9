package main

import rego.v1

# Unit tests of registries.rego; they need the data files:
# `wasm-validate test testdata/conftest/data/policy --data testdata/conftest/data/data`.

deployment(image) := {
	"kind": "Deployment",
	"metadata": {"name": "web"},
	"spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
}

test_an_allowed_registry_passes if {
	count(deny) == 0 with input as deployment("registry.example.com/web:1")
}

test_another_registry_is_denied if {
	count(deny) == 1 with input as deployment("docker.io/web:1")
}

test_both_data_files_are_merged if {
	data.registries.owner == "platform"
	data.registries.allowed == ["registry.example.com/"]
}

test_data_can_be_replaced_in_a_test if {
	count(deny) == 0 with input as deployment("docker.io/web:1")
		with data.registries.allowed as ["docker.io/"]
}

package main

import rego.v1

# Tests that fail, one for each way a test fails.

# Passes: the rule denies a Pod.
test_pods_are_denied if {
	count(deny) == 1 with input as {"kind": "Pod"}
}

# Undefined: the body is false.
test_pods_are_allowed if {
	count(deny) == 0 with input as {"kind": "Pod"}
}

# False: the rule's value is false.
test_false := false

# An evaluation error: a complete rule with two values.
test_conflict if {
	conflict == 1 with input as {"kind": "Pod"}
}

# Runaway: bounded by the runtime's fuel and memory limits.
test_runaway if {
	count(numbers.range(1, 1000000000)) > 0
}

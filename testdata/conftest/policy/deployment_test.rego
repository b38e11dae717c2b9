package main

import rego.v1

# A Conftest unit test file: `conftest verify` runs it, a check must not
# read it. The deny rule below would fail every document if it were read.
test_denies_root if {
	deny["x"] with input as {}
}

deny contains "read from a _test.rego file" if true

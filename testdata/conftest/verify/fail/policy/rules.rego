package main

import rego.v1

deny contains "every Pod is denied" if input.kind == "Pod"

conflict := 1 if input.kind == "Pod"

conflict := 2 if input.kind == "Pod"

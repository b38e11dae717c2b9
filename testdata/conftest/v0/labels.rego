package main

deny[msg] {
  not input.metadata.labels.app
  msg := sprintf("%s %s has no app label", [input.kind, input.metadata.name])
}

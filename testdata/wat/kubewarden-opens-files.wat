;; A waPC guest that imports WASI's path_open: file system access, which
;; wasm-validate does not offer. It must be rejected at load, by name.
(module
  (import "wapc" "__guest_request" (func (param i32 i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "__guest_call") (param i32 i32) (result i32) (i32.const 0)))

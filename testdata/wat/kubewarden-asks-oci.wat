;; A minimal waPC guest (Kubewarden protocol) written by hand. On any
;; operation it asks the host for the "oci" capability, which wasm-validate
;; denies, and answers with the host's error as its own __guest_error.
;; protocol_version answers "v1" so that it loads.
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call" (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "kubewarden")
  (data (i32.const 16) "oci")
  (data (i32.const 32) "verify")
  (data (i32.const 48) "\"v1\"")
  ;; op at 1024, payload at 2048, host error at 8192
  (func (export "__guest_call") (param $op_len i32) (param $len i32) (result i32)
    (local $n i32)
    (call $guest_request (i32.const 1024) (i32.const 2048))
    ;; "protocol_version" is 16 bytes and starts with 'p'
    (if (i32.and (i32.eq (local.get $op_len) (i32.const 16))
                 (i32.eq (i32.load8_u (i32.const 1024)) (i32.const 112)))
      (then
        (call $guest_response (i32.const 48) (i32.const 4))
        (return (i32.const 1))))
    (if (i32.eq
          (call $host_call (i32.const 0) (i32.const 10) (i32.const 16) (i32.const 3)
                           (i32.const 32) (i32.const 6) (i32.const 2048) (local.get $len))
          (i32.const 0))
      (then
        (local.set $n (call $host_error_len))
        (call $host_error (i32.const 8192))
        (call $guest_error (i32.const 8192) (local.get $n))
        (return (i32.const 0))))
    (call $guest_response (i32.const 48) (i32.const 4))
    (i32.const 1)))

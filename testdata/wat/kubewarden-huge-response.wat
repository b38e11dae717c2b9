;; Hostile waPC guest: answers validate with a response of 2 GiB - 1 bytes;
;; the host must refuse it by its length before reading.
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 48) "\"v1\"")
  (data (i32.const 64) "{\"valid\":true}")
  (data (i32.const 96) "not a validation response")
  ;; op at 1024, payload at 2048
  (func (export "__guest_call") (param $op_len i32) (param $len i32) (result i32)
    (call $guest_request (i32.const 1024) (i32.const 2048))
    ;; "protocol_version" (16 bytes): "v1", so that it loads
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then
        (call $guest_response (i32.const 48) (i32.const 4))
        (return (i32.const 1))))
    ;; "validate_settings" (17 bytes): valid
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then
        (call $guest_response (i32.const 64) (i32.const 14))
        (return (i32.const 1))))
    ;; "validate"
    (call $guest_response (i32.const 0) (i32.const 0x7fffffff))
    (i32.const 1)))

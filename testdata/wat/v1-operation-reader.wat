;; Well-behaved, ABI version 1: denies when the JSON request starts with
;; `{\"operation\":\"DELETE\"` (the host writes `operation` first); allows otherwise.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"v1-operation-reader\",\"description\":\"test policy: reads the operation\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"],\"operations\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "wv_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"DELETE\",\"path\":\"\"}]}")
  (data (i32.const 200) "{\"operation\":\"DELETE\"")
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (local $i i32)
    (if (i32.lt_u (local.get $len) (i32.const 21)) (then (return (i64.const 0))))
    (block $differ
      (loop $next
        (br_if $differ
          (i32.ne (i32.load8_u (i32.add (local.get $ptr) (local.get $i)))
                  (i32.load8_u offset=200 (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br_if $next (i32.lt_u (local.get $i) (i32.const 21)))
        (return (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 63)))))
    (i64.const 0)))

;; Hostile, ABI version 2: reads 64 MiB past the end of the request,
;; outside its linear memory.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":2,\"name\":\"v2-reads-past-tape\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "wv_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (func (export "wv_abi_version") (result i32) (i32.const 2))
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (drop (i32.load (i32.add (i32.add (local.get $ptr) (local.get $len)) (i32.const 0x4000000))))
    (i64.const 0)))

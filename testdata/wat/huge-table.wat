;; Hostile: declares a table of 10,000,000 elements. Instantiation must fail
;; against the table limit (10,000 elements by default).
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"huge-table\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (table 10000000 funcref)
  (func (export "wv_evaluate") (param i32 i32) (result i64) (i64.const 0)))

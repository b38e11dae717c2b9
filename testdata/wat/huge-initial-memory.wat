;; Hostile: declares an initial memory of 65,536 pages (4 GiB). Instantiation
;; must fail against the memory limit without reserving the 4 GiB.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"huge-initial-memory\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 65536)
  (global $bump (mut i32) (i32.const 1024))
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (func (export "wv_evaluate") (param i32 i32) (result i64) (i64.const 0)))

;; Hostile for preparation: a mutable global the host cannot read (not
;; exported), so a snapshot could not restore it; refused at load.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"prepare-hidden-global\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (global $bump (export "bump") (mut i32) (i32.const 4096))
  (global $hidden (mut i32) (i32.const 0))
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (func (export "wv_prepare") (param i32 i32) (result i64)
    (global.set $hidden (i32.const 1))
    (i64.const 0))
  (func (export "wv_evaluate") (param i32 i32) (result i64) (i64.const 0)))

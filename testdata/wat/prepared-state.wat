;; Well-behaved preparable module. `wv_prepare` grows memory by one page,
;; sets a marker in the first page and one in the new page, and sets the
;; exported mutable global `state` to 1. `wv_evaluate` allows only when it
;; finds exactly that state (so the prepared state was restored and nothing
;; an earlier evaluation wrote survived), then overwrites all three.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"prepared-state\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (global $bump (export "bump") (mut i32) (i32.const 4096))
  (global $state (export "state") (mut i32) (i32.const 0))
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $bump))
    (global.set $bump (i32.add (global.get $bump) (local.get $len)))
    (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (local.get $ptr))
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"state leaked between evaluations\",\"path\":\"\"}]}")
  (func (export "wv_prepare") (param i32 i32) (result i64)
    (drop (memory.grow (i32.const 1)))
    (i32.store8 (i32.const 1000) (i32.const 1))
    (i32.store8 (i32.const 70000) (i32.const 1))
    (global.set $state (i32.const 1))
    (i64.const 0))
  (func (export "wv_evaluate") (param i32 i32) (result i64)
    (local $ok i32)
    (local.set $ok
      (i32.and
        (i32.and
          (i32.eq (i32.load8_u (i32.const 1000)) (i32.const 1))
          (i32.eq (i32.load8_u (i32.const 70000)) (i32.const 1)))
        (i32.eq (global.get $state) (i32.const 1))))
    (i32.store8 (i32.const 1000) (i32.const 2))
    (i32.store8 (i32.const 70000) (i32.const 2))
    (global.set $state (i32.const 2))
    (if (result i64) (local.get $ok)
      (then (i64.const 0))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 89))))))

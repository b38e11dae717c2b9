;; A module whose state the host cannot restore: a mutable global that is
;; not exported, counted up by every evaluation. It is never reused, so
;; every evaluation finds the counter at 0; it denies if it does not.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"hidden-state\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (global $hidden (mut i32) (i32.const 0))
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32) (i32.const 4096))
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"state leaked between evaluations\",\"path\":\"\"}]}")
  (func (export "wv_evaluate") (param i32 i32) (result i64)
    (local $seen i32)
    (local.set $seen (global.get $hidden))
    (global.set $hidden (i32.add (global.get $hidden) (i32.const 1)))
    (if (result i64) (i32.eqz (local.get $seen))
      (then (i64.const 0))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 89))))))

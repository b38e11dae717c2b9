;; A module that changes its table: every evaluation stores a function in
;; slot 0, which starts empty. A table is not restored, so the module is
;; never reused and every evaluation finds the slot empty; it denies if not.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"changes-table\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (table 1 funcref)
  (func $f)
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32) (i32.const 4096))
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"state leaked between evaluations\",\"path\":\"\"}]}")
  (func (export "wv_evaluate") (param i32 i32) (result i64)
    (local $empty i32)
    (local.set $empty (ref.is_null (table.get (i32.const 0))))
    (table.set (i32.const 0) (ref.func $f))
    (if (result i64) (local.get $empty)
      (then (i64.const 0))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 89)))))
  (elem declare func $f))

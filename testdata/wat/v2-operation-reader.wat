;; Well-behaved, ABI version 2, written from docs/abi.md: denies when the
;; request header says UPDATE (operation code 1 at byte 4) and carries an
;; old-object section (its length at byte 28 is not 0); allows otherwise.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":2,\"name\":\"v2-operation-reader\",\"description\":\"test policy: reads the operation and the old object\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"],\"operations\":[\"*\"]}]}")
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
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"UPDATE with an old object\",\"path\":\"\"}]}")
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (if (result i64)
      (i32.and
        (i32.eq (i32.load offset=4 (local.get $ptr)) (i32.const 1))
        (i32.ne (i32.load offset=28 (local.get $ptr)) (i32.const 0)))
      (then (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 82)))
      (else (i64.const 0)))))

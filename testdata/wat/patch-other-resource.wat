;; Hostile mutating module: a JSON Patch aimed at another resource of the
;; stream (the second item of a List, the document after it). Each patch is
;; applied to its own resource only, where these paths do not exist: an error
;; result, and every document unchanged.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"patch-other-resource\",\"description\":\"hostile test module\",\"severity\":\"info\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}],\"mutating\":true}")
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
  (data (i32.const 16) "{\"allowed\":true,\"patch\":[{\"op\":\"add\",\"path\":\"/items/1/metadata/labels\",\"value\":{\"hijacked\":\"true\"}},{\"op\":\"replace\",\"path\":\"/1/metadata/name\",\"value\":\"hijacked\"}]}")
  (func (export "wv_evaluate") (param i32 i32) (result i64)
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 163))))

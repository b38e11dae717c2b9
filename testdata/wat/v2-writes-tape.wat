;; Hostile, ABI version 2: overwrites the whole request, tape and header,
;; with 0xff bytes, then denies with a fixed response. The next
;; evaluation gets a fresh instance and an intact request.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":2,\"name\":\"v2-writes-tape\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
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
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"saw a tape\",\"path\":\"\"}]}")
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    ;; Deny only when the request still starts with the magic: a request
    ;; left over from an earlier evaluation would show 0xff here.
    (if (i32.ne (i32.load (local.get $ptr)) (i32.const 0x32545657)) (then (unreachable)))
    (memory.fill (local.get $ptr) (i32.const 0xff) (local.get $len))
    (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 67))))

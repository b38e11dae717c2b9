;; Hostile: built to be slow to compile. The tests (crates/engine/tests/hostile.rs)
;; repeat each section between ";; REPEAT name" and ";; END name" many times:
;; "huge" makes wv_evaluate one huge function, "open" and "close" nest it in
;; as many blocks. As written here (each section once) it is a small valid
;; module that allows everything.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"slow-compile\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
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
  (func (export "wv_evaluate") (param i32 i32) (result i64)
    (local $x i32)
    ;; REPEAT open
    block
    ;; END open
    ;; REPEAT huge
    local.get $x
    i32.const 1
    i32.add
    local.set $x
    ;; END huge
    ;; REPEAT close
    end
    ;; END close
    i64.const 0))

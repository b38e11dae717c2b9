;; Hostile, ABI version 2: believes the object section holds a thousand
;; times as many nodes as its header says and reads them all, running off
;; the end of its memory.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":2,\"name\":\"v2-lies-about-lengths\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
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
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (local $nodes i32) (local $i i32) (local $count i32) (local $sum i32)
    (local.set $nodes (i32.add (i32.add (local.get $ptr) (i32.load offset=16 (local.get $ptr))) (i32.const 16)))
    (local.set $count (i32.mul (i32.load (i32.sub (local.get $nodes) (i32.const 16))) (i32.const 1000)))
    (loop $read
      (local.set $sum (i32.add (local.get $sum)
        (i32.load (i32.add (local.get $nodes) (i32.shl (local.get $i) (i32.const 4))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $read (i32.lt_u (local.get $i) (local.get $count))))
    (i64.extend_i32_u (i32.and (local.get $sum) (i32.const 0)))))

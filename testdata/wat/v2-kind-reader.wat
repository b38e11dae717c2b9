;; Well-behaved, ABI version 2, written from docs/abi.md alone (no SDK):
;; walks the object's root members with the subtree-skip rule, finds the
;; member whose key is "kind" through the key table, and denies when its
;; string value is "Pod"; anything else is allowed.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":2,\"name\":\"v2-kind-reader\",\"description\":\"test policy: reads the tape by hand\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
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
  (data (i32.const 16) "{\"allowed\":false,\"violations\":[{\"message\":\"a Pod, read from the tape\",\"path\":\"/kind\"}]}")
  (data (i32.const 200) "kind")
  (data (i32.const 210) "Pod")
  ;; Whether len bytes at a equal len bytes at b.
  (func $eq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (block $differ
      (loop $next
        (if (i32.eqz (local.get $len)) (then (return (i32.const 1))))
        (br_if $differ (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
        (local.set $a (i32.add (local.get $a) (i32.const 1)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (i32.const 0))
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (local $section i32) (local $nodes i32) (local $count i32) (local $keys i32)
    (local $strings i32) (local $node i32) (local $i i32) (local $left i32)
    (local $key i32) (local $at i32)
    ;; Magic "WVT2".
    (if (i32.ne (i32.load (local.get $ptr)) (i32.const 0x32545657)) (then (unreachable)))
    ;; The object section: offset at header byte 16.
    (local.set $section (i32.add (local.get $ptr) (i32.load offset=16 (local.get $ptr))))
    (local.set $count (i32.load (local.get $section)))
    (local.set $nodes (i32.add (local.get $section) (i32.const 16)))
    (local.set $keys (i32.add (local.get $nodes) (i32.shl (local.get $count) (i32.const 4))))
    (local.set $strings (i32.add (local.get $keys)
      (i32.shl (i32.load offset=4 (local.get $section)) (i32.const 3))))
    ;; The root must be an object (tag 8).
    (if (i32.ne (i32.load (local.get $nodes)) (i32.const 8)) (then (return (i64.const 0))))
    (local.set $left (i32.load offset=8 (local.get $nodes)))
    (local.set $i (i32.const 1))
    (block $done
      (loop $member
        (br_if $done (i32.eqz (local.get $left)))
        (local.set $node (i32.add (local.get $nodes) (i32.shl (local.get $i) (i32.const 4))))
        ;; The member's key: key table entry w1 -> (offset, length).
        (local.set $key (i32.add (local.get $keys) (i32.shl (i32.load offset=4 (local.get $node)) (i32.const 3))))
        (if (i32.and
              (i32.eq (i32.load offset=4 (local.get $key)) (i32.const 4))
              (call $eq (i32.add (local.get $strings) (i32.load (local.get $key))) (i32.const 200) (i32.const 4)))
          (then
            (if (i32.and
                  (i32.and (i32.eq (i32.load (local.get $node)) (i32.const 6))
                           (i32.eq (i32.load offset=12 (local.get $node)) (i32.const 3)))
                  (call $eq (i32.add (local.get $strings) (i32.load offset=8 (local.get $node))) (i32.const 210) (i32.const 3)))
              (then (return (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 87)))))
            (return (i64.const 0))))
        ;; Next member: skip the subtree (w3) of a container, else one node.
        (local.set $at (i32.load (local.get $node)))
        (local.set $i (if (result i32) (i32.ge_u (local.get $at) (i32.const 7))
          (then (i32.load offset=12 (local.get $node)))
          (else (i32.add (local.get $i) (i32.const 1)))))
        (local.set $left (i32.sub (local.get $left) (i32.const 1)))
        (br $member)))
    (i64.const 0)))

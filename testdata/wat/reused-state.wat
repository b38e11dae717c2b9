;; Reusable module (every mutable global exported, no table changes): its
;; instances are put back into their starting state and reused. Each
;; evaluation checks that it starts from that state: the allocator's bump
;; pointer gave the request the first free byte (4096), the marker at 1000
;; and the exported global `state` are 0, and memory is one page. It denies
;; when any of those was left by an earlier evaluation, then overwrites
;; them all. The request's last byte picks what else it does: a space grows
;; memory by a page and marks it; a newline traps after writing; anything
;; else returns normally.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"reused-state\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
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
  (func (export "wv_evaluate") (param $ptr i32) (param $len i32) (result i64)
    (local $ok i32)
    (local $last i32)
    (local.set $ok
      (i32.and
        (i32.and
          (i32.eq (local.get $ptr) (i32.const 4096))
          (i32.eq (i32.load8_u (i32.const 1000)) (i32.const 0)))
        (i32.and
          (i32.eq (global.get $state) (i32.const 0))
          (i32.eq (memory.size) (i32.const 1)))))
    (i32.store8 (i32.const 1000) (i32.const 7))
    (global.set $state (i32.const 7))
    (local.set $last (i32.load8_u (i32.sub (i32.add (local.get $ptr) (local.get $len)) (i32.const 1))))
    (if (i32.eq (local.get $last) (i32.const 32))
      (then
        (drop (memory.grow (i32.const 1)))
        (i32.store8 (i32.const 70000) (i32.const 7))))
    (if (i32.eq (local.get $last) (i32.const 10))
      (then unreachable))
    (if (result i64) (local.get $ok)
      (then (i64.const 0))
      (else (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 89))))))

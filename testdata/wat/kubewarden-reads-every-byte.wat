;; Well-behaved waPC guest whose cost grows with the request, as a
;; Kubewarden policy that decodes the whole request with serde_json does
;; (in the interpreter, 100 to 300 fuel per byte): for every byte of the
;; validate payload it spins an inner loop of 50 iterations (about 300
;; fuel), then accepts. Used to test that the default fuel budget grows
;; with the request's size.
(module
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 48) "\"v1\"")
  (data (i32.const 64) "{\"valid\":true}")
  (data (i32.const 96) "{\"accepted\":true}")
  ;; op at 1024, payload at 4096 (memory grown to fit it)
  (func (export "__guest_call") (param $op_len i32) (param $len i32) (result i32)
    (local $i i32) (local $j i32) (local $sum i32)
    (if (i32.gt_u (i32.add (local.get $len) (i32.const 4096)) (i32.mul (memory.size) (i32.const 65536)))
      (then (drop (memory.grow (i32.add (i32.div_u (local.get $len) (i32.const 65536)) (i32.const 1))))))
    (call $guest_request (i32.const 1024) (i32.const 4096))
    (if (i32.eq (local.get $op_len) (i32.const 16))
      (then
        (call $guest_response (i32.const 48) (i32.const 4))
        (return (i32.const 1))))
    (if (i32.eq (local.get $op_len) (i32.const 17))
      (then
        (call $guest_response (i32.const 64) (i32.const 14))
        (return (i32.const 1))))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $j (i32.const 0))
        (loop $work
          (local.set $sum (i32.add (local.get $sum)
            (i32.load8_u (i32.add (i32.const 4096) (local.get $i)))))
          (local.set $j (i32.add (local.get $j) (i32.const 1)))
          (br_if $work (i32.lt_u (local.get $j) (i32.const 50))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    (call $guest_response (i32.const 96) (i32.add (i32.const 17) (i32.and (local.get $sum) (i32.const 0))))
    (i32.const 1)))

;; Invalid: wv_evaluate's body returns an i32 where its type says i64, so
;; the module does not validate. Engine::load refuses it; a module loaded
;; with Engine::load_prevalidated (function bodies validated on first call)
;; gives an error result when wv_evaluate is called.
(module
  (@custom "wasm-validate.metadata" "{\"abiVersion\":1,\"name\":\"invalid-body\",\"description\":\"hostile test module\",\"severity\":\"low\",\"rules\":[{\"apiGroups\":[\"*\"],\"kinds\":[\"*\"]}]}")
  (memory (export "memory") 1)
  (func (export "wv_abi_version") (result i32) (i32.const 1))
  (func (export "wv_alloc") (param $len i32) (result i32) (i32.const 1024))
  (func (export "wv_evaluate") (param i32 i32) (result i64) (i32.const 0)))

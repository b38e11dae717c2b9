use serde_json::json;
use std::sync::Arc;
use wasm_validate_abi::{Operation, tape};
use wasm_validate_gatekeeper::Library;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut library = Library::default();
    for path in [&args[1], &args[2]] {
        let text = std::fs::read(path).unwrap();
        let parsed =
            wasm_validate_manifest::parse(path, text, wasm_validate_manifest::Format::Yaml);
        library.add_parsed(Arc::new(parsed)).unwrap();
    }
    library.check().unwrap();
    let (template, constraint) = (&library.templates[0], &library.constraints[0]);
    let text = std::fs::read_to_string("testdata/bench/typical-pod.yaml").unwrap();
    let pod: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let request = tape::request(
        Operation::Create,
        &tape::encode(&json!({})),
        &tape::encode(&pod),
        None,
    );
    let program = template.program(&constraint.parameters, None);
    runtime_rego::prepare(&tape::Tape::parse(&tape::encode(&program)).unwrap()).unwrap();
    let n: usize = args.get(3).map(|s| s.parse().unwrap()).unwrap_or(20000);
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(runtime_rego::evaluate(&request));
    }
    println!("{:.2} us/eval", t.elapsed().as_secs_f64() * 1e6 / n as f64);
}

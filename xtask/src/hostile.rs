//! `cargo xtask hostile`: time and peak memory of the release `wasm-validate`
//! on each hostile input of `docs/security.md`, default limits throughout:
//! manifests built to exhaust a reader (generated into `target/hostile`) and
//! the hostile policy modules of `testdata/wat` run on one Pod. Prints one
//! line per case: exit code, wall seconds, peak RSS (GNU time).

use std::path::{Path, PathBuf};

use crate::measure;

#[path = "../../crates/engine/tests/support/repeat.rs"]
mod repeat;

#[path = "../../crates/manifest/tests/support/hostile.rs"]
mod hostile_inputs;

/// A case: its name, the arguments after `check`, and the file to write first.
struct Case {
    name: &'static str,
    args: Vec<String>,
}

fn write(dir: &Path, name: &str, text: &[u8]) -> Result<String, String> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.display().to_string())
}

/// `testdata/wat/slow-compile.wat` with its sections repeated.
fn slow_compile(root: &Path, huge: usize, depth: usize) -> Result<String, String> {
    let path = root.join("testdata/wat/slow-compile.wat");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(repeat::repeat_sections(&text, |name| {
        if name == "huge" { huge } else { depth }
    }))
}

fn manifests(dir: &Path) -> Result<Vec<Case>, String> {
    let mut cases = Vec::new();
    let mut add = |name: &'static str, file: &str, text: Vec<u8>| -> Result<(), String> {
        let path = write(dir, file, &text)?;
        cases.push(Case {
            name,
            args: vec![path],
        });
        Ok(())
    };
    add(
        "100 MB document",
        "big.yaml",
        hostile_inputs::big_config_map(100 << 20).into_bytes(),
    )?;
    let item = "{apiVersion: v1, kind: ConfigMap, metadata: {name: c}}";
    add(
        "List of 1,000,000 items (60 MB)",
        "million.yaml",
        hostile_inputs::list(item, 1_000_000).into_bytes(),
    )?;
    add(
        "List of 1,000,000 tiny items (29 MB)",
        "tiny.yaml",
        hostile_inputs::list("{apiVersion: v1, kind: Pod}", 1_000_000).into_bytes(),
    )?;
    add(
        "10,000 levels of nesting",
        "deep.yaml",
        hostile_inputs::deep_flow(10_000).into_bytes(),
    )?;
    add(
        "200,000 unclosed flow sequences",
        "unclosed.yaml",
        hostile_inputs::deep_flow(200_000)
            .replace(']', "")
            .into_bytes(),
    )?;
    add(
        "alias bomb (387 million nodes)",
        "bomb.yaml",
        hostile_inputs::alias_bomb().into_bytes(),
    )?;
    let binary: Vec<u8> = (0..10u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    add("10 MiB of binary data", "binary.yaml", binary)?;
    Ok(cases)
}

fn policies(root: &Path, dir: &Path) -> Result<Vec<Case>, String> {
    let pod = write(
        dir,
        "pod.yaml",
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: nginx}]}\n",
    )?;
    let wat = |name: &str| {
        root.join("testdata/wat")
            .join(format!("{name}.wat"))
            .display()
            .to_string()
    };
    let mut cases = Vec::new();
    for (name, module) in [
        ("infinite loop (100,000,000 fuel)", wat("infinite-loop")),
        ("start function that never returns", wat("endless-start")),
        ("memory growth to the 64 MiB cap", wat("memory-bomb")),
        ("deep recursion", wat("deep-recursion")),
        ("4 GiB initial memory", wat("huge-initial-memory")),
        ("response of 4 GiB", wat("huge-response")),
        ("32 MiB response in memory", wat("memory-sized-response")),
        (
            "slow to compile: 3.6 million instructions in one function in 200,000 nested blocks, 60 MB of WAT",
            write(
                dir,
                "slow-compile.wat",
                slow_compile(root, 900_000, 200_000)?.as_bytes(),
            )?,
        ),
        (
            "module of 65 MiB",
            write(dir, "too-large.wasm", &{
                let mut bytes = b"\0asm\x01\0\0\0".to_vec();
                bytes.resize(65 << 20, 0);
                bytes
            })?,
        ),
    ] {
        cases.push(Case {
            name,
            args: vec!["--no-config".into(), "--policy".into(), module, pod.clone()],
        });
    }
    Ok(cases)
}

pub fn hostile(root: &Path) -> Result<(), String> {
    super::step(&["build", "--release", "-p", "wasm-validate-cli"])?;
    let binary = root.join("target/release/wasm-validate");
    let dir: PathBuf = root.join("target/hostile");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut cases = manifests(&dir)?;
    cases.extend(policies(root, &dir)?);
    println!("| input | exit | seconds | peak memory | first error |\n|---|---|---|---|---|");
    for case in cases {
        let mut args = vec!["check".to_owned(), "--no-config".to_owned()];
        args.extend(case.args.iter().filter(|a| *a != "--no-config").cloned());
        let measured = measure::run(&binary, &args)?;
        let output = std::process::Command::new(&binary)
            .args(&args)
            .output()
            .map_err(|e| format!("{}: {e}", binary.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let first = text
            .lines()
            .find_map(|l| l.split_once("ERROR ").map(|(_, e)| e))
            .or_else(|| text.lines().find_map(|l| l.trim().strip_prefix("ERROR")))
            .unwrap_or("none");
        // The path up to target/hostile/ or testdata/ says nothing.
        let first = first
            .rsplit_once("target/hostile/")
            .map_or(first, |(_, rest)| rest);
        let first: String = first.chars().take(110).collect();
        println!(
            "| {} | {} | {:.2} | {:.0} MiB | {} |",
            case.name,
            measured.code.map_or("signal".to_owned(), |c| c.to_string()),
            measured.wall,
            measured.max_rss_kib as f64 / 1024.0,
            first.replace('|', "\\|")
        );
    }
    Ok(())
}

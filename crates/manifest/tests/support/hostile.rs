//! Hostile manifests, generated: shared by `crates/manifest`'s tests,
//! `crates/cli/tests/it/post_render.rs` and `cargo xtask hostile` (each
//! includes this file by path and uses what it needs).
#![allow(dead_code)]

/// A ConfigMap named `big` of at least `bytes` bytes: `data` holds one
/// 80-character value per line, from line 6 on.
pub fn big_config_map(bytes: usize) -> String {
    let mut big = String::with_capacity(bytes + 128);
    big.push_str("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n");
    let mut i = 0;
    while big.len() < bytes {
        big.push_str(&format!("  k{i:08}: {}\n", "x".repeat(80)));
        i += 1;
    }
    big
}

/// A ConfigMap named `deep` whose `data.x` (line 5) is `depth` nested flow
/// sequences.
pub fn deep_flow(depth: usize) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: deep\ndata:\n  x: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

/// A ConfigMap named `bomb` with nine levels of nine YAML aliases:
/// 387,420,489 strings if expanded.
pub fn alias_bomb() -> String {
    let mut bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\n".to_owned();
    bomb.push_str("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
        bomb.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
    }
    bomb.push_str("data: {x: *a9}\n");
    bomb
}

/// A `List` of `count` copies of `item` (a flow mapping, one per line from
/// line 4 on).
pub fn list(item: &str, count: usize) -> String {
    format!(
        "apiVersion: v1\nkind: List\nitems:\n{}",
        format!("- {item}\n").repeat(count)
    )
}

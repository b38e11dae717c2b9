//! The Helm contract, replayed exactly as each Helm version drives the
//! post-renderer, on the real cert-manager streams of `testdata/real`:
//!
//! - Helm 3 (`--post-renderer wasm-validate --post-renderer-args post-render
//!   --post-renderer-args --config=...`) runs the executable with those
//!   arguments, writes the release to its stdin, reads stdout, and on a
//!   non-zero exit fails and prints the captured stderr.
//! - Helm 4 (`--post-renderer wasm-validate`, the plugin of
//!   `docs/helm/plugin.yaml`) runs the `platformCommand` of its OS and
//!   architecture, with `${HELM_PLUGIN_DIR}` expanded, the command's `args`
//!   followed by every `--post-renderer-args`, and `HELM_PLUGIN_NAME` and
//!   `HELM_PLUGIN_DIR` set; it sends hooks too, needs each document's
//!   `postrenderer.helm.sh/postrender-filename` annotation back, rejects
//!   empty output, and discards stderr.
//!
//! What reaches the controlling terminal is observed through a real
//! pseudo-terminal: `script` (util-linux) gives the command one.

use crate::common;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::root;
use serde_json::Value;
use wasm_validate_manifest::split;

const HELM3: &str = "testdata/real/cert-manager.helm3-post-render-stdin.yaml";
const HELM4: &str = "testdata/real/cert-manager.helm4-post-render-stdin.yaml";
const CONFIG: &str = "testdata/config/helm.yaml";
const FILENAME_ANNOTATION: &str = "postrenderer.helm.sh/postrender-filename";
const PLUGIN_YAML: &str = "docs/helm/plugin.yaml";

/// Go's names of this machine's OS and architecture, as Helm matches
/// `platformCommand` entries.
fn go_platform() -> (&'static str, &'static str) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    };
    (os, arch)
}

fn scratch(name: &str) -> PathBuf {
    common::scratch("helm", name)
}

/// Runs `program` with `args` and `env` (on top of a clean `NO_COLOR`
/// environment without any `HELM_*` variable), in the workspace root, with
/// `stdin` written to it, as Go's `exec.Cmd` with pipes does.
fn run_as_helm(program: &Path, args: &[String], env: &[(&str, &str)], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut command = Command::new(program);
    command.args(args).current_dir(root()).env("NO_COLOR", "1");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HELM_") {
            command.env_remove(key);
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || pipe.write_all(&bytes));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    output
}

/// Helm 3: `--post-renderer <path to wasm-validate>` with
/// `--post-renderer-args` `post-render`, then `extra`.
fn helm3(extra: &[&str], stdin: &[u8]) -> Output {
    let mut args = vec!["post-render".to_owned()];
    args.extend(extra.iter().map(|a| a.to_string()));
    run_as_helm(
        Path::new(env!("CARGO_BIN_EXE_wasm-validate")),
        &args,
        &[],
        stdin,
    )
}

/// An installed Helm 4 plugin: the plugin directory (`plugin.yaml` and the
/// binary where this platform's `platformCommand` expects it), and the
/// command and arguments Helm 4 would run for `--post-renderer-args extra`.
struct Plugin {
    dir: PathBuf,
    command: PathBuf,
    args: Vec<String>,
}

fn install_plugin(extra: &[&str]) -> Plugin {
    // One plugin directory per install: tests run in parallel, and a binary
    // being replaced while another test runs it is "text file busy".
    static INSTALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = INSTALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = scratch(&format!("plugins-{n}")).join("wasm-validate");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(root().join(PLUGIN_YAML)).unwrap();
    std::fs::write(dir.join("plugin.yaml"), &text).unwrap();
    let plugin: Value = serde_yaml::from_str(&text).unwrap();
    let (os, arch) = go_platform();
    let entry = plugin["runtimeConfig"]["platformCommand"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["os"] == os && c["arch"] == arch)
        .unwrap_or_else(|| panic!("plugin.yaml has no command for {os}/{arch}"))
        .clone();
    let command = entry["command"]
        .as_str()
        .unwrap()
        .replace("${HELM_PLUGIN_DIR}", &dir.display().to_string());
    let command = PathBuf::from(command);
    std::fs::create_dir_all(command.parent().unwrap()).unwrap();
    // A hard link, not a copy: a debug binary is hundreds of megabytes.
    let binary = env!("CARGO_BIN_EXE_wasm-validate");
    if std::fs::hard_link(binary, &command).is_err() {
        std::fs::copy(binary, &command).unwrap();
    }
    let mut args: Vec<String> = entry["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    args.extend(extra.iter().map(|a| a.to_string()));
    Plugin { dir, command, args }
}

/// Helm 4: the plugin run with `--post-renderer-args extra`.
fn helm4(extra: &[&str], stdin: &[u8]) -> Output {
    let plugin = install_plugin(extra);
    let dir = plugin.dir.display().to_string();
    run_as_helm(
        &plugin.command,
        &plugin.args,
        &[
            ("HELM_PLUGIN_NAME", "wasm-validate"),
            ("HELM_PLUGIN_DIR", &dir),
        ],
        stdin,
    )
}

fn documents(text: &str) -> Vec<Value> {
    split(text)
        .into_iter()
        .map(|p| serde_yaml::from_str::<Value>(&text[p.range]).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap()
}

#[test]
fn plugin_yaml_is_a_helm4_postrenderer_plugin_of_this_version() {
    let plugin: Value = serde_yaml::from_str(&read(PLUGIN_YAML)).unwrap();
    let keys: Vec<&str> = plugin
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    // Helm 4 rejects unknown keys.
    for key in &keys {
        assert!(
            [
                "apiVersion",
                "type",
                "name",
                "version",
                "runtime",
                "runtimeConfig",
                "sourceURL",
                "config"
            ]
            .contains(key),
            "{key}"
        );
    }
    assert_eq!(plugin["apiVersion"], "v1");
    assert_eq!(plugin["type"], "postrenderer/v1");
    assert_eq!(plugin["runtime"], "subprocess");
    assert_eq!(plugin["name"], "wasm-validate");
    assert_eq!(plugin["version"], env!("CARGO_PKG_VERSION"));
    let commands = plugin["runtimeConfig"]["platformCommand"]
        .as_array()
        .unwrap();
    let platforms: Vec<(String, String)> = commands
        .iter()
        .map(|c| {
            assert_eq!(c["args"], serde_json::json!(["post-render"]));
            assert!(
                c["command"]
                    .as_str()
                    .unwrap()
                    .starts_with("${HELM_PLUGIN_DIR}/bin/")
            );
            (
                c["os"].as_str().unwrap().to_owned(),
                c["arch"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for wanted in [
        ("linux", "amd64"),
        ("linux", "arm64"),
        ("linux", "arm"),
        ("linux", "riscv64"),
    ] {
        assert!(
            platforms.contains(&(wanted.0.to_owned(), wanted.1.to_owned())),
            "{wanted:?}"
        );
    }
}

#[test]
fn helm3_install_with_the_documented_arguments_passes_the_mutated_release() {
    let input = read(HELM3);
    let config = format!("--config={CONFIG}");
    let output = helm3(&[&config], input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let out = String::from_utf8(output.stdout).unwrap();
    let (before, after) = (documents(&input), documents(&out));
    assert_eq!(before.len(), 45);
    assert_eq!(after.len(), before.len());
    for (old, new) in before.iter().zip(&after) {
        assert_eq!(old["kind"], new["kind"]);
        assert_eq!(old["metadata"]["name"], new["metadata"]["name"]);
        assert_eq!(new["metadata"]["labels"]["example.com/team"], "platform");
    }
    // Helm 3 shows stderr only on failure; the summary is there regardless.
    assert!(stderr.contains("45 resources"), "{stderr}");
    assert!(stderr.contains("45 mutated"), "{stderr}");
    // No hook reaches a Helm 3 post-renderer.
    assert!(
        before
            .iter()
            .all(|d| d["metadata"]["annotations"]["helm.sh/hook"].is_null())
    );
}

#[test]
fn helm4_plugin_keeps_annotations_and_checks_the_hooks_too() {
    let input = read(HELM4);
    let config = format!("--config={CONFIG}");
    let output = helm4(&[&config], input.as_bytes());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(!out.trim().is_empty());
    let (before, after) = (documents(&input), documents(&out));
    assert_eq!(after.len(), before.len());
    let hooks = before
        .iter()
        .filter(|d| !d["metadata"]["annotations"]["helm.sh/hook"].is_null())
        .count();
    assert!(hooks >= 1, "the Helm 4 stream carries the hooks");
    for (old, new) in before.iter().zip(&after) {
        // Every document keeps apiVersion, kind, metadata and the annotation.
        assert_eq!(old["apiVersion"], new["apiVersion"]);
        assert_eq!(old["kind"], new["kind"]);
        let annotation = &new["metadata"]["annotations"][FILENAME_ANNOTATION];
        assert!(annotation.is_string());
        assert_eq!(
            *annotation,
            old["metadata"]["annotations"][FILENAME_ANNOTATION]
        );
        assert_eq!(new["metadata"]["labels"]["example.com/team"], "platform");
    }
    assert!(stderr.contains(&format!("{} resources", before.len())));

    // The Deployments-only exemption of testdata/config/cert-manager.yaml
    // passes Helm 3's stream, but Helm 4 also sends the startupapicheck hook.
    let narrow = "--config=testdata/config/cert-manager.yaml";
    assert_eq!(
        helm3(&[narrow], read(HELM3).as_bytes()).status.code(),
        Some(0)
    );
    let denied = helm4(&[narrow], input.as_bytes());
    assert_eq!(denied.status.code(), Some(1));
    assert!(denied.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&denied.stderr);
    assert!(
        stderr.contains("Job cert-manager/cert-manager-startupapicheck"),
        "{stderr}"
    );
}

#[test]
fn empty_release_is_a_comment_not_empty_output() {
    for output in [helm3(&[], b""), helm4(&[], b"\n\n")] {
        assert_eq!(output.status.code(), Some(0));
        let out = String::from_utf8(output.stdout).unwrap();
        assert!(!out.trim().is_empty(), "Helm 4 rejects empty output");
        assert!(documents(&out).is_empty(), "and it holds no resource");
    }
}

/// Runs `shell_command` under `script`, which gives it a pseudo-terminal as
/// its controlling terminal; returns what reached the terminal.
fn on_a_terminal(shell_command: &str) -> String {
    let log = scratch("tty").join("typescript");
    let output = Command::new("script")
        .args(["--quiet", "--return", "--command", shell_command])
        .arg(&log)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("script (util-linux) runs");
    let seen = String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned();
    assert!(
        output.status.code().is_some(),
        "script ran: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    seen
}

fn quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}

#[test]
fn helm4_denial_goes_to_the_report_file_and_the_controlling_terminal() {
    let work = scratch("denial");
    let report = work.join("report.json");
    let (out, err) = (work.join("stdout"), work.join("stderr"));
    let plugin = install_plugin(&[
        "--config=testdata/config/cert-manager.yaml",
        &format!("--report-file={}", report.display()),
        "--report-format=json",
    ]);
    let args: Vec<String> = plugin.args.iter().map(|a| quote(Path::new(a))).collect();
    // Helm 4's pipes: stdin from the release, stdout and stderr captured.
    let command = format!(
        "HELM_PLUGIN_NAME=wasm-validate HELM_PLUGIN_DIR={dir} {cmd} {args} < {input} > {out} 2> {err}; echo \"exit=$?\"",
        dir = quote(&plugin.dir),
        cmd = quote(&plugin.command),
        args = args.join(" "),
        input = quote(&root().join(HELM4)),
        out = quote(&out),
        err = quote(&err),
    );
    let terminal = on_a_terminal(&command);
    assert!(terminal.contains("exit=1"), "{terminal}");
    assert!(std::fs::read(&out).unwrap().is_empty());
    let written: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let messages: Vec<&str> = written["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["result"] == "fail" && r["action"] == "deny")
        .flat_map(|r| r["violations"].as_array().into_iter().flatten())
        .map(|v| v["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 4, "{messages:?}");
    for message in &messages {
        assert!(terminal.contains(message), "{message} on the terminal");
    }
    assert!(terminal.contains("the release was denied by policy"));
    assert!(terminal.contains(&report.display().to_string()));
    let stderr = std::fs::read_to_string(&err).unwrap();
    assert!(stderr.contains(messages[0]));

    // Helm 3 prints the captured stderr itself: nothing on the terminal.
    let helm3_command = format!(
        "{cmd} post-render --no-config --policy require-resource-limits < {input} > /dev/null 2> {err}; echo \"exit=$?\"",
        cmd = quote(Path::new(env!("CARGO_BIN_EXE_wasm-validate"))),
        input = quote(&root().join(HELM3)),
        err = quote(&err),
    );
    let terminal = on_a_terminal(&helm3_command);
    assert!(terminal.contains("exit=1"), "{terminal}");
    assert!(!terminal.contains("denied by policy"), "{terminal}");
    assert!(
        std::fs::read_to_string(&err)
            .unwrap()
            .contains("denied by policy")
    );
}

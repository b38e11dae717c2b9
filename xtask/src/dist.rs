//! `cargo xtask dist [--target TRIPLE]... [--release-url URL] [--out DIR]`:
//! builds the release binaries for each target (default: the host) and
//! writes, to DIR (default `target/dist`):
//!
//! - `wasm-validate-vVERSION-TRIPLE.tar.gz`: both binaries, LICENSE and
//!   README.md;
//! - `kubectl-wasm_validate-vVERSION-TRIPLE.tar.gz` (`.zip` is not made: no
//!   Windows build runs here): the plugin binary and LICENSE at the top
//!   level, as krew expects;
//! - `wasm-validate-VERSION.tgz`: the Helm 4 plugin (`helm plugin install`),
//!   `wasm-validate/plugin.yaml` from `docs/helm/plugin.yaml` with the
//!   version and only the platforms built, and each binary at
//!   `wasm-validate/bin/OS-ARCH/`;
//! - `wasm-validate.krew.yaml`: `docs/krew/wasm-validate.yaml` with
//!   `RELEASE_URL` replaced by URL (default: `file://` DIR) and every
//!   `SHA256_OF_THE_ARCHIVE` by its archive's digest; platforms without an
//!   archive are left out;
//! - `SHA256SUMS`, in `sha256sum -c` format.
//!
//! Archives are deterministic: entries in a fixed order, mtime 0, owner 0.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_yaml::Value;
use sha2::{Digest, Sha256};

use crate::targets::{self, BINARIES, Target};

/// One file of an archive: name, bytes, mode.
pub type Entry = (String, Vec<u8>, u32);

/// A deterministic `.tar.gz` of `entries`.
pub fn tar_gz(entries: &[Entry]) -> Result<Vec<u8>, String> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut builder = tar::Builder::new(encoder);
    for (name, bytes, mode) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(*mode);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, bytes.as_slice())
            .map_err(|e| format!("{name}: {e}"))?;
    }
    builder
        .into_inner()
        .and_then(|gz| gz.finish())
        .map_err(|e| e.to_string())
}

/// SHA-256 as lowercase hex.
pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `docs/helm/plugin.yaml` for a release: `version` set, `platformCommand`
/// cut down to `platforms` (Go OS, architecture).
pub fn plugin_yaml(
    template: &str,
    version: &str,
    platforms: &[(&str, &str)],
) -> Result<String, String> {
    let mut plugin: Value =
        serde_yaml::from_str(template).map_err(|e| format!("plugin.yaml: {e}"))?;
    plugin["version"] = Value::from(version);
    let commands = plugin["runtimeConfig"]["platformCommand"]
        .as_sequence_mut()
        .ok_or("plugin.yaml: no runtimeConfig.platformCommand")?;
    commands.retain(|c| {
        platforms
            .iter()
            .any(|(os, arch)| c["os"].as_str() == Some(os) && c["arch"].as_str() == Some(arch))
    });
    if commands.len() != platforms.len() {
        return Err("plugin.yaml: a built platform has no platformCommand".to_owned());
    }
    let text = serde_yaml::to_string(&plugin).map_err(|e| e.to_string())?;
    Ok(format!(
        "# Helm 4 post-renderer plugin of wasm-validate {version} (cargo xtask dist).\n{text}"
    ))
}

/// The krew manifest for a release: `spec.version` → `v` and `version` (also
/// in the archive names), `RELEASE_URL` → `release_url`, each platform's
/// `SHA256_OF_THE_ARCHIVE` → the digest of the archive its `uri` names
/// (`digests`: archive file name → SHA-256); platforms whose archive is not
/// in `digests` are left out.
pub fn krew_manifest(
    template: &str,
    version: &str,
    release_url: &str,
    digests: &BTreeMap<String, String>,
) -> Result<String, String> {
    let mut manifest: Value =
        serde_yaml::from_str(template).map_err(|e| format!("krew manifest: {e}"))?;
    let template_version = manifest["spec"]["version"]
        .as_str()
        .ok_or("krew manifest: no spec.version")?
        .to_owned();
    let version = format!("v{version}");
    manifest["spec"]["version"] = Value::from(version.as_str());
    let platforms = manifest["spec"]["platforms"]
        .as_sequence_mut()
        .ok_or("krew manifest: no spec.platforms")?;
    let mut kept = Vec::new();
    for mut platform in platforms.drain(..) {
        let uri = platform["uri"]
            .as_str()
            .unwrap_or_default()
            .replace(&template_version, &version);
        let file = uri.rsplit('/').next().unwrap_or_default().to_owned();
        if let Some(digest) = digests.get(&file) {
            platform["uri"] = Value::from(uri.replace("RELEASE_URL", release_url));
            platform["sha256"] = Value::from(digest.as_str());
            kept.push(platform);
        }
    }
    if kept.is_empty() {
        return Err("krew manifest: no platform's archive was built".to_owned());
    }
    *platforms = kept;
    let text = serde_yaml::to_string(&manifest).map_err(|e| e.to_string())?;
    Ok(format!(
        "# krew plugin manifest (cargo xtask dist): kubectl krew install --manifest=wasm-validate.krew.yaml\n{text}"
    ))
}

/// The binaries of one target: (target, [(binary name, bytes)]).
pub type Built = (Target, Vec<(String, Vec<u8>)>);

/// Every release file for `built`, as (file name, bytes). `root` gives the
/// templates, LICENSE and README.md.
pub fn package(
    root: &Path,
    version: &str,
    release_url: &str,
    built: &[Built],
) -> Result<Vec<(String, Vec<u8>)>, String> {
    let read = |name: &str| std::fs::read(root.join(name)).map_err(|e| format!("{name}: {e}"));
    let license = read("LICENSE")?;
    let readme = read("README.md")?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut helm: Vec<Entry> = Vec::new();
    let mut platforms = Vec::new();
    for (target, binaries) in built {
        let exe = target.exe_suffix();
        let binary = |name: &str| {
            binaries
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
                .ok_or_else(|| format!("{}: no {name} built", target.triple))
        };
        let cli = binary("wasm-validate")?;
        let plugin = binary("kubectl-wasm_validate")?;
        files.push((
            format!("wasm-validate-v{version}-{}.tar.gz", target.triple),
            tar_gz(&[
                (format!("wasm-validate{exe}"), cli.clone(), 0o755),
                (format!("kubectl-wasm_validate{exe}"), plugin.clone(), 0o755),
                ("LICENSE".to_owned(), license.clone(), 0o644),
                ("README.md".to_owned(), readme.clone(), 0o644),
            ])?,
        ));
        files.push((
            format!("kubectl-wasm_validate-v{version}-{}.tar.gz", target.triple),
            tar_gz(&[
                (format!("kubectl-wasm_validate{exe}"), plugin, 0o755),
                ("LICENSE".to_owned(), license.clone(), 0o644),
            ])?,
        ));
        helm.push((
            format!(
                "wasm-validate/bin/{}-{}/wasm-validate{exe}",
                target.os, target.arch
            ),
            cli,
            0o755,
        ));
        platforms.push((target.os, target.arch));
    }
    let template = String::from_utf8(read("docs/helm/plugin.yaml")?).map_err(|e| e.to_string())?;
    let plugin = plugin_yaml(&template, version, &platforms)?;
    helm.insert(
        0,
        (
            "wasm-validate/plugin.yaml".to_owned(),
            plugin.into_bytes(),
            0o644,
        ),
    );
    helm.push(("wasm-validate/LICENSE".to_owned(), license, 0o644));
    files.push((format!("wasm-validate-{version}.tgz"), tar_gz(&helm)?));
    let digests: BTreeMap<String, String> = files
        .iter()
        .map(|(name, bytes)| (name.clone(), sha256(bytes)))
        .collect();
    let krew_template =
        String::from_utf8(read("docs/krew/wasm-validate.yaml")?).map_err(|e| e.to_string())?;
    let krew = krew_manifest(&krew_template, version, release_url, &digests)?;
    files.push(("wasm-validate.krew.yaml".to_owned(), krew.into_bytes()));
    let sums: String = files
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", sha256(bytes)))
        .collect();
    files.push(("SHA256SUMS".to_owned(), sums.into_bytes()));
    Ok(files)
}

/// `cargo xtask dist`: see the module's documentation.
pub fn dist(root: &Path, args: &[&str]) -> Result<(), String> {
    let mut triples = Vec::new();
    let mut out = root.join("target/dist");
    let mut release_url = None;
    let mut args = args.iter();
    while let Some(&arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg {
            "--target" => triples.push(value.to_string()),
            "--out" => out = PathBuf::from(value),
            "--release-url" => release_url = Some(value.to_string()),
            _ => return Err(format!("dist: unknown argument {arg}")),
        }
    }
    if triples.is_empty() {
        triples.push(targets::host()?);
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let out = out.canonicalize().map_err(|e| e.to_string())?;
    let release_url = release_url.unwrap_or_else(|| format!("file://{}", out.display()));
    let mut built = Vec::new();
    for triple in &triples {
        let target = targets::find(triple)?;
        let dir = targets::build(root, &target, "release")?;
        let binaries = BINARIES
            .iter()
            .map(|name| {
                let path = dir.join(format!("{name}{}", target.exe_suffix()));
                std::fs::read(&path)
                    .map(|bytes| (name.to_string(), bytes))
                    .map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<_, _>>()?;
        built.push((target, binaries));
    }
    let version = env!("CARGO_PKG_VERSION");
    for (name, bytes) in package(root, version, &release_url, &built)? {
        let path = out.join(&name);
        std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "{}  {} ({} bytes)",
            sha256(&bytes),
            path.display(),
            bytes.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        crate::workspace()
    }

    fn entries(archive: &[u8]) -> Vec<(String, Vec<u8>, u32)> {
        let mut out = Vec::new();
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            let mode = entry.header().mode().unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            out.push((name, bytes, mode));
        }
        out
    }

    fn fake(triple: &str) -> Built {
        let target = targets::find(triple).unwrap();
        (
            target,
            BINARIES
                .iter()
                .map(|n| (n.to_string(), format!("{n} for {triple}").into_bytes()))
                .collect(),
        )
    }

    #[test]
    fn a_release_holds_the_archives_the_plugin_and_the_filled_krew_manifest() {
        let built = [
            fake("x86_64-unknown-linux-gnu"),
            fake("aarch64-unknown-linux-gnu"),
        ];
        let files = package(&root(), "1.2.3", "https://example.invalid/r/v1.2.3", &built).unwrap();
        let file = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| {
                    panic!(
                        "{name} in {:?}",
                        files.iter().map(|f| &f.0).collect::<Vec<_>>()
                    )
                })
                .1
                .clone()
        };
        // The krew archive: the binary and LICENSE at the top level.
        let krew_archive = entries(&file(
            "kubectl-wasm_validate-v1.2.3-aarch64-unknown-linux-gnu.tar.gz",
        ));
        let names: Vec<&str> = krew_archive.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names, ["kubectl-wasm_validate", "LICENSE"]);
        assert_eq!(
            krew_archive[0].1,
            b"kubectl-wasm_validate for aarch64-unknown-linux-gnu"
        );
        assert_eq!(krew_archive[0].2, 0o755);
        // The Helm plugin: plugin.yaml under the plugin's name, one binary
        // per platform where its platformCommand points.
        let helm = entries(&file("wasm-validate-1.2.3.tgz"));
        assert_eq!(helm[0].0, "wasm-validate/plugin.yaml");
        let plugin: Value = serde_yaml::from_slice(&helm[0].1).unwrap();
        assert_eq!(plugin["version"], "1.2.3");
        assert_eq!(plugin["type"], "postrenderer/v1");
        let commands = plugin["runtimeConfig"]["platformCommand"]
            .as_sequence()
            .unwrap();
        assert_eq!(commands.len(), 2);
        for command in commands {
            let path = command["command"]
                .as_str()
                .unwrap()
                .replace("${HELM_PLUGIN_DIR}", "wasm-validate");
            let binary = helm
                .iter()
                .find(|e| e.0 == path)
                .unwrap_or_else(|| panic!("{path}"));
            assert_eq!(binary.2, 0o755);
            assert!(String::from_utf8_lossy(&binary.1).starts_with("wasm-validate for "));
        }
        // The krew manifest: URL and digests filled, unbuilt platforms gone.
        let manifest: Value = serde_yaml::from_slice(&file("wasm-validate.krew.yaml")).unwrap();
        assert_eq!(manifest["spec"]["version"], "v1.2.3");
        let platforms = manifest["spec"]["platforms"].as_sequence().unwrap();
        assert_eq!(platforms.len(), 2);
        for platform in platforms {
            let uri = platform["uri"].as_str().unwrap();
            let name = uri
                .strip_prefix("https://example.invalid/r/v1.2.3/")
                .unwrap_or_else(|| panic!("{uri}"));
            assert_eq!(platform["sha256"].as_str().unwrap(), sha256(&file(name)));
        }
        let text = String::from_utf8(file("wasm-validate.krew.yaml")).unwrap();
        assert!(!text.contains("RELEASE_URL") && !text.contains("SHA256_OF_THE_ARCHIVE"));
        // SHA256SUMS names every other file with its digest.
        let sums = String::from_utf8(file("SHA256SUMS")).unwrap();
        assert_eq!(sums.lines().count(), files.len() - 1);
        for (name, bytes) in &files[..files.len() - 1] {
            assert!(
                sums.contains(&format!("{}  {name}\n", sha256(bytes))),
                "{name}"
            );
        }
        // Deterministic.
        assert_eq!(
            files,
            package(&root(), "1.2.3", "https://example.invalid/r/v1.2.3", &built).unwrap()
        );
    }

    #[test]
    fn the_plugin_keeps_only_built_platforms_and_refuses_unknown_ones() {
        let template = std::fs::read_to_string(root().join("docs/helm/plugin.yaml")).unwrap();
        let one = plugin_yaml(&template, "0.9.0", &[("linux", "riscv64")]).unwrap();
        let plugin: Value = serde_yaml::from_str(&one).unwrap();
        let commands = plugin["runtimeConfig"]["platformCommand"]
            .as_sequence()
            .unwrap();
        assert_eq!(commands.len(), 1);
        assert_eq!(commands[0]["arch"], "riscv64");
        assert!(plugin_yaml(&template, "0.9.0", &[("plan9", "mips")]).is_err());
    }
}

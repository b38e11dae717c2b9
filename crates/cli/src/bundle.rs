//! `wasm-validate bundle create|verify|inspect|keygen`, and `--bundle` on
//! every front end: reading a policy bundle (`wasm-validate-bundle`) into
//! the configuration of a run. See docs/air-gapped.md.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use wasm_validate_bundle::{self as bundle, Bundle, Contents, SignatureCheck};
use wasm_validate_config::{BundledModules, ChosenModule, CommandLine, Config};

use crate::{EXIT_OK, Engine, SetupError, print};
use wasm_validate_report::EXIT_ERROR;

/// Reads a whole file, naming it in the error.
fn read(path: &Path, what: &str) -> Result<Vec<u8>, SetupError> {
    std::fs::read(path)
        .map_err(|e| SetupError(format!("{}: cannot read the {what}: {e}", path.display())))
}

/// Reads the PEM key file at `path` (`what`: "public key", "private key")
/// and parses it with `parse`; errors name the file.
fn key<K>(
    path: &Path,
    what: &str,
    parse: impl FnOnce(&str) -> Result<K, bundle::BundleError>,
) -> Result<K, SetupError> {
    let text = String::from_utf8(read(path, what)?)
        .map_err(|_| SetupError(format!("{}: not a PEM file", path.display())))?;
    parse(&text).map_err(|e| SetupError(format!("{}: {e}", path.display())))
}

/// Reads the public key file at `path`.
fn public_key(path: &Path) -> Result<bundle::VerifyingKey, SetupError> {
    key(path, "public key", bundle::read_verifying_key)
}

/// Opens and checks the bundle at `path` (with the public key at `key`, if
/// given): every file against the manifest, and the signature. Any failure
/// is a setup error naming the bundle.
pub fn open_bundle(path: &Path, key: Option<&Path>) -> Result<Bundle, SetupError> {
    let key = key.map(public_key).transpose()?;
    let bytes = read(path, "bundle")?;
    bundle::open(&bytes, key.as_ref()).map_err(|e| SetupError(format!("{}: {e}", path.display())))
}

/// The configuration a checked bundle carries, with its modules attached
/// ([`BundledModules`]): nothing is read from the file system or the
/// network afterwards. Errors in it name `BUNDLE:wasm-validate.yaml` and
/// its line.
pub fn bundle_config(path: &Path, opened: &Bundle) -> Result<Config, SetupError> {
    let name = format!("{}:{}", path.display(), opened.manifest.configuration);
    let text = String::from_utf8(opened.configuration().to_vec())
        .map_err(|_| SetupError(format!("{name}: not UTF-8 text")))?;
    let mut config = Config::from_text(&name, text, PathBuf::new()).map_err(|e| SetupError(e.0))?;
    let modules = BundledModules {
        by_reference: opened
            .manifest
            .modules
            .keys()
            .filter_map(|r| Some((r.clone(), opened.module(r)?.to_vec())))
            .collect(),
        builtins: opened
            .manifest
            .builtins
            .keys()
            .filter_map(|n| Some((n.clone(), opened.builtin(n)?.to_vec())))
            .collect(),
    };
    config.bundled = Some(Arc::new(modules));
    Ok(config)
}

/// What `--bundle` says on stderr about a signature it did not check.
pub fn signature_note(path: &Path, opened: &Bundle) -> Option<String> {
    match (&opened.signature, &opened.manifest.signer) {
        (SignatureCheck::NotChecked { signed: true }, Some(signer)) => Some(format!(
            "note: {} is signed by {signer}, but no --bundle-key was given: its digests were checked, its signature was not",
            path.display()
        )),
        _ => None,
    }
}

/// `bundle create`: packs the configuration at `config` (or
/// `wasm-validate.yaml` in the working directory), the modules it names and
/// the built-in policies it chooses into `output`, signed with the private
/// key at `key` if given. The policy set is built first, so a bundle that
/// would not load is never written. Returns the exit code (0, or 2 with the
/// error on stderr).
pub fn create_command(config: Option<&Path>, output: &Path, key: Option<&Path>) -> u8 {
    finish(create(config, output, key))
}

/// Prints the summary (exit 0) or the error on stderr (exit 2).
fn finish(result: Result<String, SetupError>) -> u8 {
    match result {
        Ok(summary) => {
            print(&summary);
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_ERROR
        }
    }
}

fn create(
    config: Option<&Path>,
    output: &Path,
    key_path: Option<&Path>,
) -> Result<String, SetupError> {
    let signer = key_path
        .map(|path| key(path, "private key", bundle::read_signing_key))
        .transpose()?;
    let config = Config::discover(config)
        .map_err(|e| SetupError(e.0))?
        .ok_or_else(|| {
            SetupError(format!(
                "bundle create needs a configuration: --config FILE, or {} in the working directory",
                wasm_validate_config::DEFAULT_FILE
            ))
        })?;
    let engine = Engine::default();
    let set =
        wasm_validate_config::build_policy_set(&engine, Some(&config), &CommandLine::default())
            .map_err(|e| SetupError(e.0))?
            .all_loaded()
            .map_err(SetupError)?;
    let mut contents = Contents {
        created_by: format!("wasm-validate {}", env!("CARGO_PKG_VERSION")),
        configuration: config.source.text.clone().into_bytes(),
        ..Contents::default()
    };
    for chosen in wasm_validate_config::chosen_modules(Some(&config), &CommandLine::default()) {
        match chosen {
            ChosenModule::Builtin(name) => {
                // One policy may run twice under two ids: one module.
                if contents.builtins.iter().any(|(n, _)| *n == name) {
                    continue;
                }
                let bytes = wasm_validate_builtin::get(&name)
                    .ok_or_else(|| SetupError(format!("no built-in policy is named {name:?}")))?;
                contents.builtins.push((name, bytes.to_vec()));
            }
            ChosenModule::File { reference, path } => {
                if contents.modules.iter().any(|(r, _, _)| *r == reference) {
                    continue;
                }
                // A module's bytes; Gatekeeper YAML and Conftest Rego (a
                // file or a directory) packed as one JSON file.
                let bytes =
                    wasm_validate_config::bundle_bytes(&reference, &path).map_err(SetupError)?;
                let mut name = path
                    .file_name()
                    .map_or_else(|| "module".to_owned(), |n| n.to_string_lossy().into_owned());
                if bytes.starts_with(br#"{"wasm-validate-sources""#) {
                    name.push_str(".sources.json");
                }
                contents.modules.push((reference, name, bytes));
            }
        }
    }
    // The CRDs of `schema.crdPaths`, so that the schema stage of an
    // air-gapped check is the one of the machine that made the bundle
    // (the Kubernetes version is in the configuration itself).
    for (i, path) in config
        .schema
        .iter()
        .flat_map(|s| s.crd_paths.iter())
        .enumerate()
    {
        let bytes = wasm_validate_config::crd_bundle_bytes(&config.base.join(path))
            .map_err(|e| SetupError(e.0))?;
        contents.modules.push((
            wasm_validate_config::crd_reference(path),
            format!("crds-{i}.yaml"),
            bytes,
        ));
    }
    let bytes = bundle::create(&contents, signer.as_ref())
        .map_err(|e| SetupError(format!("{}: {e}", output.display())))?;
    std::fs::write(output, &bytes)
        .map_err(|e| SetupError(format!("{}: cannot write: {e}", output.display())))?;
    let signed = match &signer {
        Some(key) => format!("signed by {}", bundle::fingerprint(&key.verifying_key())),
        None => "unsigned".to_owned(),
    };
    Ok(format!(
        "wrote {} ({} bytes, {signed}): {} policies, modules: {} built-in, {} from files; configuration {}\n",
        output.display(),
        bytes.len(),
        set.policies.len(),
        contents.builtins.len(),
        contents.modules.len(),
        config.source.name,
    ))
}

/// `bundle verify`: checks every file of the bundle at `path` against its
/// manifest, the signature with the public key at `key` (when given), and
/// that its configuration and modules load. Prints what was checked; returns
/// 0, or 2 with the error on stderr.
pub fn verify_command(path: &Path, key: Option<&Path>) -> u8 {
    let checked = open_bundle(path, key).and_then(|opened| {
        let config = bundle_config(path, &opened)?;
        let engine = Engine::default();
        let set =
            wasm_validate_config::build_policy_set(&engine, Some(&config), &CommandLine::default())
                .map_err(|e| SetupError(e.0))?
                .all_loaded()
                .map_err(SetupError)?;
        Ok((opened, set.policies.len()))
    });
    match checked {
        Ok((opened, policies)) => {
            let signature = match &opened.signature {
                SignatureCheck::Verified(key) => format!("signature verified with {key}"),
                SignatureCheck::NotChecked { signed: true } => format!(
                    "signed by {}, signature NOT checked (give --public-key)",
                    opened
                        .manifest
                        .signer
                        .as_deref()
                        .unwrap_or("an unnamed key")
                ),
                SignatureCheck::NotChecked { signed: false } => "unsigned".to_owned(),
            };
            print(&format!(
                "{}: OK: {} files match their SHA-256 digests, {policies} policies load; {signature}\n",
                path.display(),
                opened.manifest.files.len(),
            ));
            EXIT_OK
        }
        Err(error) => {
            eprintln!("error: {error}");
            EXIT_ERROR
        }
    }
}

/// `bundle inspect`: the manifest of the bundle at `path` (checked against
/// the files, not the signature): as `bundle.json` with `json`, else a
/// listing. Returns 0, or 2 with the error on stderr.
pub fn inspect_command(path: &Path, json: bool) -> u8 {
    let opened = match open_bundle(path, None) {
        Ok(opened) => opened,
        Err(error) => {
            eprintln!("error: {error}");
            return EXIT_ERROR;
        }
    };
    let manifest = &opened.manifest;
    if json {
        let mut text = serde_json::to_string_pretty(manifest).expect("a manifest encodes");
        text.push('\n');
        print(&text);
        return EXIT_OK;
    }
    let mut out = format!(
        "bundle:        {}\ncreated by:    {}\nconfiguration: {}\nsigner:        {}\n",
        path.display(),
        manifest.created_by,
        manifest.configuration,
        match (&manifest.signer, &opened.signature) {
            (Some(signer), _) => format!("{signer} (check with bundle verify --public-key)"),
            (None, SignatureCheck::NotChecked { signed: true }) => "signed, no signer named".into(),
            (None, _) => "unsigned".to_owned(),
        }
    );
    out.push_str("built-in policies:\n");
    for (name, file) in &manifest.builtins {
        out.push_str(&format!("  {name:<40} {file}\n"));
    }
    out.push_str("modules:\n");
    for (reference, file) in &manifest.modules {
        out.push_str(&format!("  {reference:<40} {file}\n"));
    }
    out.push_str("files:\n");
    for file in &manifest.files {
        out.push_str(&format!(
            "  {} {:>9}  {}\n",
            file.sha256, file.size, file.path
        ));
    }
    print(&out);
    EXIT_OK
}

/// `bundle keygen`: writes a new Ed25519 key pair, the private key (PKCS#8
/// PEM, mode 0600 on Unix) to `private` and the public key (SPKI PEM) to
/// `public`. Existing files are not overwritten. Returns 0, or 2.
pub fn keygen_command(private: &Path, public: &Path) -> u8 {
    let result = (|| -> Result<String, SetupError> {
        for path in [private, public] {
            if path.exists() {
                return Err(SetupError(format!(
                    "{}: exists; not overwriting a key",
                    path.display()
                )));
            }
        }
        let key = bundle::generate_key().map_err(|e| SetupError(e.to_string()))?;
        write_private(private, bundle::signing_key_pem(&key).as_bytes())?;
        std::fs::write(public, bundle::verifying_key_pem(&key.verifying_key()))
            .map_err(|e| SetupError(format!("{}: cannot write: {e}", public.display())))?;
        Ok(format!(
            "wrote {} (private, keep it off the cluster) and {} (public, {})\n",
            private.display(),
            public.display(),
            bundle::fingerprint(&key.verifying_key())
        ))
    })();
    finish(result)
}

/// Creates `path` readable by its owner only (on Unix) and writes `bytes`.
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), SetupError> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|e| SetupError(format!("{}: cannot write: {e}", path.display())))
}

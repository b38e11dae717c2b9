//! Policy bundles: everything a run needs in one file that can be carried to
//! an air-gapped cluster and checked there with no network and no cache.
//!
//! A bundle is a gzip-compressed tar archive (`tar tzf` lists it) of:
//!
//! - `bundle.json`, the [`Manifest`]: the SHA-256 digest and size of every
//!   other file, which file is the configuration, which file holds each
//!   module the configuration names by path, which file holds each built-in
//!   policy it chooses, and the fingerprint of the signing key;
//! - `bundle.json.sig`, optional: the Ed25519 signature (RFC 8032, 64 bytes)
//!   of the exact bytes of `bundle.json`, so the signature covers every file
//!   through its digest;
//! - `wasm-validate.yaml`, the configuration, byte for byte as written;
//! - `modules/*`, the modules the configuration names by path;
//! - `builtin/*.wasm`, the built-in policies the configuration chooses, so
//!   the bundle runs the same code whatever binary opens it.
//!
//! [`open`] checks everything before anything is used: entry types and
//! names, sizes, that every listed file is present with its digest and no
//! other file is, and, when a public key is given, the signature. Creating
//! a bundle twice from the same inputs and key gives the same bytes (entries
//! in a fixed order, mtime 0, owner 0).
//!
//! Keys are PKCS#8 (private) and SPKI (public) PEM files, as written by
//! [`signing_key_pem`] and [`verifying_key_pem`] or by
//! `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout`. The
//! cryptography is the `ed25519-dalek` crate's; signatures are checked with
//! its strict verification (no malleable or small-order-key signatures).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::io::Read;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, Signer};
pub use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// `apiVersion` of a bundle manifest.
pub const API_VERSION: &str = "wasm-validate.dev/v1";
/// `kind` of a bundle manifest.
pub const KIND: &str = "PolicyBundle";
/// The manifest's name in the archive.
pub const MANIFEST: &str = "bundle.json";
/// The signature's name in the archive.
pub const SIGNATURE: &str = "bundle.json.sig";
/// The configuration's name in the archive.
pub const CONFIGURATION: &str = "wasm-validate.yaml";
/// Largest unpacked size accepted by [`open`], in bytes (all entries
/// together): 512 MiB.
pub const MAX_UNPACKED_BYTES: u64 = 512 << 20;
/// Most entries accepted by [`open`].
pub const MAX_ENTRIES: usize = 4096;

/// Why a bundle cannot be made or used. Every variant is a reason to stop
/// before any policy runs (the front ends exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// Not a gzip-compressed tar archive, or a damaged one.
    #[error("not a policy bundle (a .tar.gz made by `wasm-validate bundle create`): {0}")]
    NotABundle(String),
    /// More than [`MAX_UNPACKED_BYTES`] or [`MAX_ENTRIES`].
    #[error("the bundle is larger than allowed ({0})")]
    TooLarge(String),
    /// An entry that is not a plain file with a plain relative name, or a
    /// name given twice.
    #[error("entry {path:?}: {reason}")]
    BadEntry {
        /// The entry's name.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No `bundle.json`.
    #[error("no {MANIFEST} in the bundle")]
    MissingManifest,
    /// `bundle.json` is not a manifest of this version.
    #[error("{MANIFEST}: {0}")]
    BadManifest(String),
    /// A file the manifest lists is not in the archive.
    #[error("{path}: listed in {MANIFEST} but missing from the bundle")]
    Missing {
        /// The missing file.
        path: String,
    },
    /// A file whose digest or size is not the one listed.
    #[error(
        "{path}: changed since the bundle was made (SHA-256 {actual}, {MANIFEST} lists {expected})"
    )]
    Changed {
        /// The file.
        path: String,
        /// The digest `bundle.json` lists (`size:` when the size differs).
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// A file in the archive that the manifest does not list.
    #[error("{path}: in the bundle but not listed in {MANIFEST} (added after it was made)")]
    Unlisted {
        /// The extra file.
        path: String,
    },
    /// A public key was given but the bundle carries no signature.
    #[error("the bundle is not signed, but a public key was given to check its signature")]
    Unsigned,
    /// The signature does not verify with the given key.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// A key file that is not an Ed25519 key in PEM.
    #[error("key: {0}")]
    Key(String),
}

/// One file of the bundle as `bundle.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDigest {
    /// Name in the archive (`/`-separated, relative).
    pub path: String,
    /// SHA-256 of the contents, 64 lowercase hex digits.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    /// [`API_VERSION`].
    pub api_version: String,
    /// [`KIND`].
    pub kind: String,
    /// The program and version that made the bundle (`wasm-validate 0.1.0`).
    pub created_by: String,
    /// The configuration's name in the archive ([`CONFIGURATION`]).
    pub configuration: String,
    /// Every file but `bundle.json` and its signature, sorted by path.
    pub files: Vec<FileDigest>,
    /// Module path as the configuration writes it → file in the archive.
    #[serde(default)]
    pub modules: BTreeMap<String, String>,
    /// Built-in policy name → file in the archive.
    #[serde(default)]
    pub builtins: BTreeMap<String, String>,
    /// [`fingerprint`] of the key that signed the bundle, if signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// What [`create`] packs.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    /// The program and version making the bundle.
    pub created_by: String,
    /// The configuration file's bytes.
    pub configuration: Vec<u8>,
    /// Modules named by path: (path as the configuration writes it, file
    /// name to store it under in `modules/`, bytes).
    pub modules: Vec<(String, String, Vec<u8>)>,
    /// Built-in policies: (name, module bytes).
    pub builtins: Vec<(String, Vec<u8>)>,
}

/// What [`open`] found out about the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Signed, and the signature verified with the given key (its
    /// [`fingerprint`]).
    Verified(String),
    /// No key was given: digests were checked, the signature was not.
    NotChecked {
        /// Whether the bundle carries a signature.
        signed: bool,
    },
}

/// A bundle whose files all match its manifest (and, when a key was given,
/// whose signature verified).
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// The signature check.
    pub signature: SignatureCheck,
    files: BTreeMap<String, Vec<u8>>,
}

impl Bundle {
    /// The bytes of the file at `path` in the archive.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The configuration's bytes.
    pub fn configuration(&self) -> &[u8] {
        self.file(&self.manifest.configuration).unwrap_or_default()
    }

    /// The module the configuration names by `reference` (its path as
    /// written in the configuration).
    pub fn module(&self, reference: &str) -> Option<&[u8]> {
        self.manifest
            .modules
            .get(reference)
            .and_then(|path| self.file(path))
    }

    /// The bundled module of the built-in policy `name`.
    pub fn builtin(&self, name: &str) -> Option<&[u8]> {
        self.manifest
            .builtins
            .get(name)
            .and_then(|path| self.file(path))
    }
}

/// Lowercase hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// A public key's fingerprint: `SHA256:` and the hex SHA-256 of its 32 raw
/// bytes.
pub fn fingerprint(key: &VerifyingKey) -> String {
    format!("SHA256:{}", sha256_hex(key.as_bytes()))
}

/// A new signing key from the operating system's random source.
///
/// # Errors
/// [`BundleError::Key`] when the random source fails.
pub fn generate_key() -> Result<SigningKey, BundleError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| BundleError::Key(format!("no randomness: {e}")))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn signing_key_pem(key: &SigningKey) -> String {
    key.to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .map(|pem| pem.to_string())
        .expect("an Ed25519 key encodes as PKCS#8")
}

/// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
pub fn verifying_key_pem(key: &VerifyingKey) -> String {
    key.to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
        .expect("an Ed25519 key encodes as SPKI")
}

/// Reads an Ed25519 private key from PKCS#8 PEM.
///
/// # Errors
/// [`BundleError::Key`] when `pem` is not one.
pub fn read_signing_key(pem: &str) -> Result<SigningKey, BundleError> {
    SigningKey::from_pkcs8_pem(pem.trim()).map_err(|e| {
        BundleError::Key(format!(
            "not an Ed25519 private key in PKCS#8 PEM (BEGIN PRIVATE KEY): {e}"
        ))
    })
}

/// Reads an Ed25519 public key from SPKI PEM.
///
/// # Errors
/// [`BundleError::Key`] when `pem` is not one.
pub fn read_verifying_key(pem: &str) -> Result<VerifyingKey, BundleError> {
    VerifyingKey::from_public_key_pem(pem.trim()).map_err(|e| {
        BundleError::Key(format!(
            "not an Ed25519 public key in SPKI PEM (BEGIN PUBLIC KEY): {e}"
        ))
    })
}

/// Whether `name` is a plain relative archive path: `/`-separated, no empty,
/// `.` or `..` component, no backslash.
fn plain_path(name: &str) -> bool {
    !name.is_empty()
        && !name.contains('\\')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// Stores `bytes` at `path` in `files` and records `key` → `path` in
/// `index`, unless `name` (the part of `path` given by the caller) is not a
/// plain name: then [`BundleError::BadEntry`] with `reason`.
fn place<'a>(
    files: &mut BTreeMap<String, &'a [u8]>,
    index: &mut BTreeMap<String, String>,
    key: &str,
    name: &str,
    path: String,
    bytes: &'a [u8],
    reason: &str,
) -> Result<(), BundleError> {
    if name.contains('/') || !plain_path(&path) {
        return Err(BundleError::BadEntry {
            path,
            reason: reason.to_owned(),
        });
    }
    index.insert(key.to_owned(), path.clone());
    files.insert(path, bytes);
    Ok(())
}

/// Packs `contents` into a bundle, signed with `key` when given. Module file
/// names are prefixed with their index, so two modules with one name stay
/// apart.
///
/// # Errors
/// [`BundleError::BadEntry`] when a module's file name is not a plain name.
pub fn create(contents: &Contents, key: Option<&SigningKey>) -> Result<Vec<u8>, BundleError> {
    let mut files: BTreeMap<String, &[u8]> = BTreeMap::new();
    files.insert(CONFIGURATION.to_owned(), &contents.configuration);
    let mut modules = BTreeMap::new();
    for (index, (reference, name, bytes)) in contents.modules.iter().enumerate() {
        let path = format!("modules/{index}-{name}");
        let reason = "a module's file name must be a plain name";
        place(
            &mut files,
            &mut modules,
            reference,
            name,
            path,
            bytes,
            reason,
        )?;
    }
    let mut builtins = BTreeMap::new();
    for (name, bytes) in &contents.builtins {
        let path = format!("builtin/{name}.wasm");
        let reason = "not a built-in policy name";
        place(&mut files, &mut builtins, name, name, path, bytes, reason)?;
    }
    let manifest = Manifest {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        created_by: contents.created_by.clone(),
        configuration: CONFIGURATION.to_owned(),
        files: files
            .iter()
            .map(|(path, bytes)| FileDigest {
                path: path.clone(),
                sha256: sha256_hex(bytes),
                size: bytes.len() as u64,
            })
            .collect(),
        modules,
        builtins,
        signer: key.map(|k| fingerprint(&k.verifying_key())),
    };
    let mut manifest_bytes = serde_json::to_vec_pretty(&manifest).expect("a manifest encodes");
    manifest_bytes.push(b'\n');
    let mut entries: Vec<(String, Vec<u8>)> = vec![(MANIFEST.to_owned(), manifest_bytes.clone())];
    if let Some(key) = key {
        let signature: Signature = key.sign(&manifest_bytes);
        entries.push((SIGNATURE.to_owned(), signature.to_bytes().to_vec()));
    }
    entries.extend(files.into_iter().map(|(p, b)| (p, b.to_vec())));
    pack(&entries).map_err(|e| BundleError::BadEntry {
        path: String::new(),
        reason: e.to_string(),
    })
}

/// A deterministic `.tar.gz` of `entries`, in order (mode 0644, mtime 0,
/// owner 0).
///
/// # Errors
/// When a name cannot be stored in a tar header (`..`, absolute, too long).
pub fn pack(entries: &[(String, Vec<u8>)]) -> std::io::Result<Vec<u8>> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let mut builder = tar::Builder::new(encoder);
    builder.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in entries {
        let mut header = tar::Header::new_ustar();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, path, bytes.as_slice())?;
    }
    builder.into_inner().and_then(|gz| gz.finish())
}

/// The entries of a `.tar.gz`, in order, checked for type, name,
/// duplicates and size (see [`MAX_UNPACKED_BYTES`], [`MAX_ENTRIES`]).
///
/// # Errors
/// [`BundleError::NotABundle`], [`BundleError::TooLarge`],
/// [`BundleError::BadEntry`].
pub fn unpack(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, BundleError> {
    let decoder = flate2::read::GzDecoder::new(bytes).take(MAX_UNPACKED_BYTES + (1 << 20));
    let mut archive = tar::Archive::new(decoder);
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut total = 0u64;
    let not_a_bundle = |e: std::io::Error| BundleError::NotABundle(e.to_string());
    for entry in archive.entries().map_err(not_a_bundle)? {
        let mut entry = entry.map_err(not_a_bundle)?;
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if !entry.header().entry_type().is_file() {
            return Err(BundleError::BadEntry {
                path,
                reason: format!("not a plain file ({:?})", entry.header().entry_type()),
            });
        }
        if !plain_path(&path) {
            return Err(BundleError::BadEntry {
                path,
                reason: "not a plain relative name".to_owned(),
            });
        }
        if out.iter().any(|(seen, _)| *seen == path) {
            return Err(BundleError::BadEntry {
                path,
                reason: "given twice".to_owned(),
            });
        }
        if out.len() >= MAX_ENTRIES {
            return Err(BundleError::TooLarge(format!(
                "more than {MAX_ENTRIES} entries"
            )));
        }
        let size = entry.size();
        total = total.saturating_add(size);
        if total > MAX_UNPACKED_BYTES {
            return Err(BundleError::TooLarge(format!(
                "more than {} MiB unpacked",
                MAX_UNPACKED_BYTES >> 20
            )));
        }
        let mut data = Vec::with_capacity(size as usize);
        entry.read_to_end(&mut data).map_err(not_a_bundle)?;
        out.push((path, data));
    }
    if out.is_empty() {
        return Err(BundleError::NotABundle("the archive is empty".to_owned()));
    }
    Ok(out)
}

/// Opens and checks a bundle: every entry a plain file, the manifest of this
/// version, every listed file present with its size and SHA-256, no file it
/// does not list, every module and built-in it names listed, and, with
/// `key`, a signature that verifies (strictly) with `key` over `bundle.json`.
///
/// # Errors
/// The first [`BundleError`] found.
pub fn open(bytes: &[u8], key: Option<&VerifyingKey>) -> Result<Bundle, BundleError> {
    let mut files: BTreeMap<String, Vec<u8>> = unpack(bytes)?.into_iter().collect();
    let manifest_bytes = files.remove(MANIFEST).ok_or(BundleError::MissingManifest)?;
    let signature = files.remove(SIGNATURE);
    let manifest: Manifest = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| BundleError::BadManifest(e.to_string()))?;
    if manifest.api_version != API_VERSION || manifest.kind != KIND {
        return Err(BundleError::BadManifest(format!(
            "apiVersion {:?} kind {:?}; this version reads {API_VERSION} {KIND}",
            manifest.api_version, manifest.kind
        )));
    }
    // The signature first: a forged manifest says nothing worth reporting.
    let check = match (key, &signature) {
        (Some(_), None) => return Err(BundleError::Unsigned),
        (Some(key), Some(signature)) => {
            let signature = Signature::from_slice(signature).map_err(|_| {
                BundleError::BadSignature(format!(
                    "{SIGNATURE} is {} bytes, not an Ed25519 signature (64)",
                    signature.len()
                ))
            })?;
            key.verify_strict(&manifest_bytes, &signature).map_err(|_| {
                BundleError::BadSignature(format!(
                    "{MANIFEST} was not signed by the key {} (the bundle names {}), or was changed after signing",
                    fingerprint(key),
                    manifest.signer.as_deref().unwrap_or("no signer")
                ))
            })?;
            SignatureCheck::Verified(fingerprint(key))
        }
        (None, signed) => SignatureCheck::NotChecked {
            signed: signed.is_some(),
        },
    };
    for listed in &manifest.files {
        let Some(data) = files.get(&listed.path) else {
            return Err(BundleError::Missing {
                path: listed.path.clone(),
            });
        };
        let actual = sha256_hex(data);
        if data.len() as u64 != listed.size {
            return Err(BundleError::Changed {
                path: listed.path.clone(),
                expected: format!("size {}", listed.size),
                actual: format!("{actual}, size {}", data.len()),
            });
        }
        if actual != listed.sha256 {
            return Err(BundleError::Changed {
                path: listed.path.clone(),
                expected: listed.sha256.clone(),
                actual,
            });
        }
    }
    if let Some(extra) = files
        .keys()
        .find(|path| !manifest.files.iter().any(|f| f.path == **path))
    {
        return Err(BundleError::Unlisted {
            path: extra.clone(),
        });
    }
    let named = std::iter::once(&manifest.configuration)
        .chain(manifest.modules.values())
        .chain(manifest.builtins.values());
    for path in named {
        if !files.contains_key(path) {
            return Err(BundleError::Missing { path: path.clone() });
        }
    }
    Ok(Bundle {
        manifest,
        signature: check,
        files,
    })
}

#[cfg(test)]
mod tests;

use super::*;
use proptest::prelude::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn contents() -> Contents {
    Contents {
        created_by: "wasm-validate test".to_owned(),
        configuration: b"apiVersion: wasm-validate.dev/v1\nkind: Configuration\n".to_vec(),
        modules: vec![
            (
                "./policies/label.wat".to_owned(),
                "label.wat".to_owned(),
                b"(module)".to_vec(),
            ),
            (
                "../other/label.wat".to_owned(),
                "label.wat".to_owned(),
                b"(module) ;; two".to_vec(),
            ),
        ],
        builtins: vec![("privileged".to_owned(), vec![0, 97, 115, 109, 1, 0, 0, 0])],
    }
}

/// Rewrites the archive: `edit` gets the entries in order.
fn repack(bundle: &[u8], edit: impl FnOnce(&mut Vec<(String, Vec<u8>)>)) -> Vec<u8> {
    let mut entries = unpack(bundle).unwrap();
    edit(&mut entries);
    pack(&entries).unwrap()
}

/// A `.tar.gz` whose names are written into the headers as given (tar's
/// builder refuses the odd ones a hostile archive may hold).
fn raw_pack(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut builder = tar::Builder::new(encoder);
    for (name, data) in entries {
        let mut header = tar::Header::new_ustar();
        header.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        builder.append(&header, *data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

#[test]
fn round_trip_gives_back_every_file_by_its_name() {
    let signer = key(1);
    let bytes = create(&contents(), Some(&signer)).unwrap();
    let bundle = open(&bytes, Some(&signer.verifying_key())).unwrap();
    assert_eq!(
        bundle.signature,
        SignatureCheck::Verified(fingerprint(&signer.verifying_key()))
    );
    assert_eq!(bundle.configuration(), contents().configuration.as_slice());
    assert_eq!(
        bundle.module("./policies/label.wat"),
        Some(&b"(module)"[..])
    );
    assert_eq!(
        bundle.module("../other/label.wat"),
        Some(&b"(module) ;; two"[..])
    );
    assert_eq!(bundle.module("label.wat"), None);
    assert_eq!(bundle.builtin("privileged").unwrap()[..4], *b"\0asm");
    assert_eq!(bundle.manifest.files.len(), 4);
    assert_eq!(
        bundle.manifest.signer,
        Some(fingerprint(&signer.verifying_key()))
    );
    // Without a key: digests checked, the signature not.
    let unchecked = open(&bytes, None).unwrap();
    assert_eq!(
        unchecked.signature,
        SignatureCheck::NotChecked { signed: true }
    );
    let unsigned = open(&create(&contents(), None).unwrap(), None).unwrap();
    assert_eq!(
        unsigned.signature,
        SignatureCheck::NotChecked { signed: false }
    );
}

#[test]
fn the_same_inputs_give_the_same_bytes() {
    let signer = key(2);
    assert_eq!(
        create(&contents(), Some(&signer)).unwrap(),
        create(&contents(), Some(&signer)).unwrap()
    );
}

#[test]
fn a_changed_byte_is_named_with_both_digests() {
    let bytes = create(&contents(), None).unwrap();
    let tampered = repack(&bytes, |entries| {
        let (_, data) = entries
            .iter_mut()
            .find(|(p, _)| p == "builtin/privileged.wasm")
            .unwrap();
        data[7] ^= 1;
    });
    let error = open(&tampered, None).unwrap_err();
    let BundleError::Changed {
        path,
        expected,
        actual,
    } = &error
    else {
        panic!("{error}");
    };
    assert_eq!(path, "builtin/privileged.wasm");
    assert_ne!(expected, actual);
    assert!(
        error
            .to_string()
            .contains("changed since the bundle was made")
    );
}

#[test]
fn a_missing_or_an_added_file_is_an_error() {
    let bytes = create(&contents(), None).unwrap();
    let missing = repack(&bytes, |entries| {
        entries.retain(|(p, _)| !p.starts_with("modules/1-"))
    });
    assert_eq!(
        open(&missing, None).unwrap_err(),
        BundleError::Missing {
            path: "modules/1-label.wat".to_owned()
        }
    );
    let added = repack(&bytes, |entries| {
        entries.push(("modules/9-extra.wasm".to_owned(), b"\0asm".to_vec()))
    });
    assert_eq!(
        open(&added, None).unwrap_err(),
        BundleError::Unlisted {
            path: "modules/9-extra.wasm".to_owned()
        }
    );
    let no_manifest = repack(&bytes, |entries| entries.retain(|(p, _)| p != MANIFEST));
    assert_eq!(
        open(&no_manifest, None).unwrap_err(),
        BundleError::MissingManifest
    );
}

#[test]
fn signatures_bind_the_manifest_to_one_key() {
    let (signer, other) = (key(3), key(4));
    let bytes = create(&contents(), Some(&signer)).unwrap();
    // Another key.
    let error = open(&bytes, Some(&other.verifying_key())).unwrap_err();
    assert!(matches!(error, BundleError::BadSignature(_)), "{error}");
    assert!(
        error
            .to_string()
            .contains(&fingerprint(&other.verifying_key()))
    );
    // A module changed and its digest updated in the manifest: the digests
    // agree, the signature does not.
    let forged = repack(&bytes, |entries| {
        let data = b"(module (func))".to_vec();
        let digest = sha256_hex(&data);
        let size = data.len();
        entries
            .iter_mut()
            .find(|(p, _)| p == "modules/0-label.wat")
            .unwrap()
            .1 = data;
        let manifest = &mut entries.iter_mut().find(|(p, _)| p == MANIFEST).unwrap().1;
        let mut parsed: Manifest = serde_json::from_slice(manifest).unwrap();
        let file = parsed
            .files
            .iter_mut()
            .find(|f| f.path == "modules/0-label.wat")
            .unwrap();
        file.sha256 = digest;
        file.size = size as u64;
        *manifest = serde_json::to_vec_pretty(&parsed).unwrap();
    });
    assert!(open(&forged, None).is_ok(), "unsigned checks cannot see it");
    assert!(matches!(
        open(&forged, Some(&signer.verifying_key())).unwrap_err(),
        BundleError::BadSignature(_)
    ));
    // The signature removed.
    let stripped = repack(&bytes, |entries| entries.retain(|(p, _)| p != SIGNATURE));
    assert_eq!(
        open(&stripped, Some(&signer.verifying_key())).unwrap_err(),
        BundleError::Unsigned
    );
    // The signature truncated.
    let short = repack(&bytes, |entries| {
        entries
            .iter_mut()
            .find(|(p, _)| p == SIGNATURE)
            .unwrap()
            .1
            .truncate(10)
    });
    assert!(matches!(
        open(&short, Some(&signer.verifying_key())).unwrap_err(),
        BundleError::BadSignature(_)
    ));
}

#[test]
fn odd_entries_and_non_bundles_are_refused() {
    for name in ["../escape", "/abs", "a//b", "./x", "a\\b"] {
        let bytes = raw_pack(&[(name, b"1")]);
        assert!(
            matches!(open(&bytes, None), Err(BundleError::BadEntry { .. })),
            "{name}"
        );
    }
    let twice = raw_pack(&[("a", b"1"), ("a", b"2")]);
    assert!(matches!(
        open(&twice, None),
        Err(BundleError::BadEntry { .. })
    ));
    assert!(matches!(
        open(b"not gzip at all", None),
        Err(BundleError::NotABundle(_))
    ));
    assert!(matches!(
        open(&raw_pack(&[]), None),
        Err(BundleError::NotABundle(_))
    ));
    let link = {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder
            .append_link(&mut header, "bundle.json", "/etc/passwd")
            .unwrap();
        let tar = builder.into_inner().unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        gz.finish().unwrap()
    };
    assert!(matches!(
        open(&link, None),
        Err(BundleError::BadEntry { .. })
    ));
    let wrong_kind = raw_pack(&[(
        MANIFEST,
        br#"{"apiVersion":"v9","kind":"Other","createdBy":"","configuration":"c","files":[]}"#,
    )]);
    assert!(matches!(
        open(&wrong_kind, None),
        Err(BundleError::BadManifest(_))
    ));
}

#[test]
fn keys_round_trip_through_pem() {
    let signer = generate_key().unwrap();
    assert_ne!(signer.to_bytes(), generate_key().unwrap().to_bytes());
    let pem = signing_key_pem(&signer);
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert_eq!(
        read_signing_key(&pem).unwrap().to_bytes(),
        signer.to_bytes()
    );
    let public = verifying_key_pem(&signer.verifying_key());
    assert!(public.starts_with("-----BEGIN PUBLIC KEY-----"));
    assert_eq!(read_verifying_key(&public).unwrap(), signer.verifying_key());
    assert!(matches!(read_verifying_key(&pem), Err(BundleError::Key(_))));
    assert!(matches!(read_signing_key("junk"), Err(BundleError::Key(_))));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever single byte of a signed bundle is changed, opening it with
    /// the key either fails or gives exactly the files that were signed
    /// (a byte of gzip's header, such as its timestamp, changes no file).
    #[test]
    fn any_flipped_byte_is_refused_or_harmless(position in 0usize..100_000, bit in 0u8..8) {
        let signer = key(5);
        let bytes = create(&contents(), Some(&signer)).unwrap();
        let original = open(&bytes, Some(&signer.verifying_key())).unwrap();
        let mut tampered = bytes.clone();
        let at = position % tampered.len();
        tampered[at] ^= 1 << bit;
        if let Ok(opened) = open(&tampered, Some(&signer.verifying_key())) {
            prop_assert_eq!(opened.files, original.files);
            prop_assert_eq!(opened.manifest, original.manifest);
        }
    }
}

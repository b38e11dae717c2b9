//! Checks of a native (ABI version 1 or 2) module at load: its exports and
//! its metadata section (`docs/abi.md`).

use wasm_validate_abi::{self as abi, Metadata};
use wasmi::{ExternType, Module, ValType};

use crate::LoadError;

pub(crate) fn check_exports(module: &Module) -> Result<(), LoadError> {
    let functions: [(&'static str, &[ValType], &[ValType]); 3] = [
        (abi::exports::ABI_VERSION, &[], &[ValType::I32]),
        (abi::exports::ALLOC, &[ValType::I32], &[ValType::I32]),
        (
            abi::exports::EVALUATE,
            &[ValType::I32, ValType::I32],
            &[ValType::I64],
        ),
    ];
    match module.get_export(abi::exports::MEMORY) {
        Some(ExternType::Memory(_)) => {}
        Some(_) => {
            return Err(LoadError::Export {
                name: abi::exports::MEMORY,
                problem: "must be a memory".to_owned(),
            });
        }
        None => {
            return Err(LoadError::Export {
                name: abi::exports::MEMORY,
                problem: "is missing".to_owned(),
            });
        }
    }
    for (name, params, results) in functions {
        let problem = match module.get_export(name) {
            Some(ExternType::Func(ty)) if ty.params() == params && ty.results() == results => {
                continue;
            }
            Some(ExternType::Func(ty)) => format!(
                "has type {:?} -> {:?} but must be {params:?} -> {results:?}",
                ty.params(),
                ty.results()
            ),
            Some(_) => "must be a function".to_owned(),
            None => "is missing".to_owned(),
        };
        return Err(LoadError::Export { name, problem });
    }
    Ok(())
}

pub(crate) fn read_metadata(module: &Module) -> Result<Metadata, LoadError> {
    let mut sections = module
        .custom_sections()
        .filter(|s| s.name() == abi::METADATA_SECTION);
    let section = sections.next().ok_or_else(|| {
        LoadError::Metadata(format!(
            "the module has no \"{}\" custom section",
            abi::METADATA_SECTION
        ))
    })?;
    if sections.next().is_some() {
        return Err(LoadError::Metadata(format!(
            "the module has more than one \"{}\" custom section",
            abi::METADATA_SECTION
        )));
    }
    let metadata: Metadata = serde_json::from_slice(section.data())
        .map_err(|e| LoadError::Metadata(format!("invalid JSON metadata: {e}")))?;
    if !abi::SUPPORTED_ABI_VERSIONS.contains(&metadata.abi_version) {
        return Err(LoadError::Metadata(format!(
            "ABI version {} is not supported (this host speaks versions {:?})",
            metadata.abi_version,
            abi::SUPPORTED_ABI_VERSIONS
        )));
    }
    if metadata.name.is_empty()
        || !metadata
            .name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(LoadError::Metadata(format!(
            "name {:?} must be non-empty lowercase letters, digits and dashes",
            metadata.name
        )));
    }
    Ok(metadata)
}

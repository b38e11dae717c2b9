//! At admission, the validating policies whose code a library module also
//! holds (the built-in ones, [`crate::InLibrary`]) are evaluated together
//! in one instance of it ([`Engine::evaluate_library`]): the object is
//! written once instead of once per policy. What the library cannot answer
//! (a member that ran out of its share of fuel, trapped or answered
//! something unreadable) is evaluated again in the policy's own module,
//! whose answer counts, so that every verdict is the one the policy's own
//! module gives (`library_and_own_modules_give_the_same_results`).

use wasm_validate_engine::{Context, Engine, EvalError, LibraryMember};
use wasm_validate_manifest::Resource;

use crate::{Encoded, PolicyResult, PolicySet, conclude};

/// Splits `validating` (indexes of `set.policies`) into the policies to
/// evaluate in a library module (all in the module of the first one that
/// has one) and the others.
pub(crate) fn partition(set: &PolicySet, validating: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let mut module = None;
    validating.iter().partition(|&&index| {
        let configured = &set.policies[index];
        let Some(library) = &configured.library else {
            return false;
        };
        if configured.unavailable.is_some()
            || configured.review_in_settings
            || configured.policy.abi_version() != 2
        {
            return false;
        }
        match module {
            None => {
                module = Some(&library.module);
                true
            }
            Some(first) => std::sync::Arc::ptr_eq(&library.module, first),
        }
    })
}

/// Evaluates the policies `indexes` (from [`partition`]) in their library
/// module on `resource`, whose `encoded` tape they read. Returns their
/// results (without the policies that found they do not apply) and the
/// policies the library did not answer, to evaluate in their own modules.
/// A passed deadline or a spent yield allowance is each remaining policy's
/// result, as in its own module.
pub(crate) fn evaluate(
    engine: &Engine,
    set: &PolicySet,
    indexes: &[usize],
    resource: &Resource,
    encoded: &Encoded<'_>,
    annotation: Option<&(Vec<String>, Option<String>)>,
    context: &Context,
) -> (Vec<PolicyResult>, Vec<usize>) {
    let (Some(&first), Some(object)) = (indexes.first(), encoded.tape.as_deref()) else {
        return (Vec::new(), indexes.to_vec());
    };
    let Some(module) = set.policies[first]
        .library
        .as_ref()
        .and_then(|l| l.module.get(engine))
    else {
        return (Vec::new(), indexes.to_vec());
    };
    let members: Vec<LibraryMember<'_>> = indexes
        .iter()
        .filter_map(|&index| {
            let configured = &set.policies[index];
            Some(LibraryMember {
                index: configured.library.as_ref()?.index,
                settings: &configured.settings_tape,
                limits: configured.policy.limits(),
                mutating: configured.policy.metadata().mutating,
            })
        })
        .collect();
    if members.len() != indexes.len() {
        return (Vec::new(), indexes.to_vec());
    }
    let evaluated = engine.evaluate_library(
        module,
        encoded.operation,
        object,
        encoded.old_tape.as_deref(),
        &members,
        context,
    );
    let (mut answered, mut again) = (Vec::new(), Vec::new());
    for (&index, evaluated) in indexes.iter().zip(evaluated) {
        let evaluated = match evaluated {
            Ok(evaluation) => Ok(evaluation),
            Err(error @ (EvalError::Deadline(_) | EvalError::Yielded(_))) => Err(error.to_string()),
            Err(_) => {
                again.push(index);
                continue;
            }
        };
        answered.extend(conclude(set, index, resource, annotation, evaluated));
    }
    (answered, again)
}

#[cfg(test)]
mod tests;

//! Update masks (AIP-134): which fields an update changes.

use crate::error::{ServiceError, Violations};

/// The fields of a resource as an update sees them.
#[derive(Clone, Copy, Debug)]
pub struct MaskSpec {
    /// Fields an update may change.
    pub updatable: &'static [&'static str],
    /// Fields that are output only (or changed by another method), with
    /// what to use instead.
    pub output_only: &'static [(&'static str, &'static str)],
}

/// Resolves `mask` to the updatable fields it names. `*` names them all. No
/// mask (or an empty one) names those `populated` says the request sets.
/// Unknown and output-only fields are reported together.
pub fn resolve(
    mask: Option<&prost_types::FieldMask>,
    spec: &MaskSpec,
    populated: impl Fn(&str) -> bool,
) -> Result<Vec<&'static str>, ServiceError> {
    let paths: &[String] = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        let fields: Vec<&'static str> = spec
            .updatable
            .iter()
            .copied()
            .filter(|f| populated(f))
            .collect();
        if fields.is_empty() {
            return Err(ServiceError::invalid(
                "update_mask",
                "names no field, and the request sets none to change",
            ));
        }
        return Ok(fields);
    }
    if paths.iter().any(|p| p == "*") {
        if paths.len() > 1 {
            return Err(ServiceError::invalid(
                "update_mask",
                "`*` must be the only path",
            ));
        }
        return Ok(spec.updatable.to_vec());
    }
    let mut errors = Violations::default();
    let mut fields = Vec::new();
    for path in paths {
        if let Some(field) = spec.updatable.iter().find(|f| **f == path.as_str()) {
            if !fields.contains(field) {
                fields.push(*field);
            }
        } else if let Some((_, instead)) =
            spec.output_only.iter().find(|(f, _)| *f == path.as_str())
        {
            errors.add(
                "update_mask",
                format!("`{path}` cannot be updated: {instead}"),
            );
        } else {
            errors.add(
                "update_mask",
                format!(
                    "`{path}` is not a field; updatable fields: {}",
                    spec.updatable.join(", ")
                ),
            );
        }
    }
    errors.finish()?;
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost_types::FieldMask;

    const SPEC: MaskSpec = MaskSpec {
        updatable: &["display_name", "phone", "role"],
        output_only: &[
            ("status", "change it with ChangeMemberStatus"),
            ("name", "it is output only"),
        ],
    };

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn named_fields() {
        let m = mask(&["phone", "role", "phone"]);
        assert_eq!(
            resolve(Some(&m), &SPEC, |_| false).unwrap(),
            ["phone", "role"]
        );
        assert_eq!(
            resolve(Some(&mask(&["*"])), &SPEC, |_| false).unwrap(),
            SPEC.updatable
        );
    }

    #[test]
    fn no_mask_means_the_populated_fields() {
        assert_eq!(resolve(None, &SPEC, |f| f == "role").unwrap(), ["role"]);
        assert!(resolve(None, &SPEC, |_| false).is_err());
    }

    #[test]
    fn bad_paths_are_all_reported() {
        let e = resolve(Some(&mask(&["status", "colour"])), &SPEC, |_| false).unwrap_err();
        let v = e.field_violations();
        assert_eq!(v.len(), 2);
        assert!(v[0].description.contains("ChangeMemberStatus"));
        assert!(v[1].description.contains("`colour` is not a field"));
        assert!(resolve(Some(&mask(&["*", "phone"])), &SPEC, |_| false).is_err());
    }
}

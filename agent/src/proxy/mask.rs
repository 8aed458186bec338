//! Masking of result values: pure functions from a value and a [`MaskStyle`] to what the
//! client sees instead. The relays decide which columns; this decides how.
use sha2::{Digest, Sha256};

use crate::policy::{ColumnMask, MaskStyle, Policy};

/// The masked form of `value`; `None` is SQL NULL.
pub fn mask_value(value: &[u8], style: MaskStyle, keep: usize) -> Option<Vec<u8>> {
    match style {
        MaskStyle::Null => None,
        MaskStyle::Full => Some(stars(value, 0)),
        MaskStyle::Partial => Some(stars(value, keep)),
        MaskStyle::Hash => {
            let d = Sha256::digest(value);
            let mut out = b"sha256:".to_vec();
            out.extend_from_slice(crate::audit::hex(&d[..8]).as_bytes());
            Some(out)
        }
    }
}

/// One `*` per character (UTF-8 aware; other bytes count one each), keeping the last `keep`
/// characters, never more than half of them, so a short value is not given away whole.
fn stars(value: &[u8], keep: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let n = text.chars().count();
    let keep = keep.min(n / 2);
    let mut out = Vec::with_capacity(value.len());
    out.resize(n - keep, b'*');
    let tail: String = text.chars().skip(n - keep).collect();
    out.extend_from_slice(tail.as_bytes());
    out
}

/// How each result column is masked: `None` passes it through. `names` are the columns as
/// the judge resolves them (`table.column`, or the bare name when the table is unknown);
/// `computed[i]` says column `i` is not a table column (an expression, or an alias the wire
/// does not name): when the statement touched a masked class, such a column is masked too,
/// since its value may derive from a masked one.
pub fn plan(
    policy: &Policy,
    masks: &[ColumnMask],
    names: &[String],
    computed: &[bool],
) -> Vec<Option<(MaskStyle, usize)>> {
    names
        .iter()
        .zip(computed)
        .map(|(name, &computed)| {
            let classes = policy.column_classes(name);
            masks
                .iter()
                .find(|m| {
                    m.classes.iter().any(|c| classes.contains(&c.as_str()))
                        || (computed && !m.classes.is_empty())
                })
                .map(|m| (m.style, m.keep))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn styles() {
        let v = b"alice@example.com";
        assert_eq!(
            mask_value(v, MaskStyle::Full, 4).unwrap(),
            b"*****************"
        );
        assert_eq!(
            mask_value(v, MaskStyle::Partial, 4).unwrap(),
            b"*************.com"
        );
        assert_eq!(mask_value(v, MaskStyle::Null, 4), None);
        let h = mask_value(v, MaskStyle::Hash, 4).unwrap();
        assert_eq!(h.len(), 7 + 16);
        assert!(h.starts_with(b"sha256:"));
        assert_eq!(Some(h), mask_value(v, MaskStyle::Hash, 0));
        assert_ne!(
            mask_value(b"other", MaskStyle::Hash, 0),
            mask_value(v, MaskStyle::Hash, 0)
        );
        // Characters, not bytes; a short value keeps at most half.
        assert_eq!(
            mask_value("žžžž".as_bytes(), MaskStyle::Partial, 1).unwrap(),
            "***ž".as_bytes()
        );
        assert_eq!(mask_value(b"ab", MaskStyle::Partial, 4).unwrap(), b"*b");
        assert_eq!(mask_value(b"", MaskStyle::Full, 4).unwrap(), b"");
    }

    #[test]
    fn plans_follow_the_classes_of_each_column() {
        let policy = Policy::from_yaml_strs(
            &[(
                "c.yaml",
                "classes:\n  - id: pii.email\n    level: confidential\n    columns: ['*email*']\n",
            )],
            &[(
                "r.yaml",
                "rules:\n  - id: mask-email\n    match: {classes: pii.email}\n    action: mask\n    mask: {style: partial, keep: 3}\n",
            )],
        )
        .unwrap();
        let cols = vec!["customers.email".to_string()];
        let ctx = crate::policy::EvalContext {
            columns: &cols,
            ..crate::policy::EvalContext::empty()
        };
        let v = policy.evaluate(&ctx);
        assert_eq!(v.action, crate::policy::Action::Mask);
        assert_eq!(v.masks.len(), 1);
        assert_eq!(v.masks[0].classes, vec!["pii.email".to_string()]);
        let names = vec![
            "customers.id".to_string(),
            "customers.email".to_string(),
            "upper".to_string(),
        ];
        let p = plan(&policy, &v.masks, &names, &[false, false, true]);
        assert_eq!(
            p,
            vec![
                None,
                Some((MaskStyle::Partial, 3)),
                Some((MaskStyle::Partial, 3))
            ]
        );
        // No mask rule matched: nothing is masked, computed or not.
        assert_eq!(
            plan(&policy, &[], &names, &[false, false, true]),
            vec![None; 3]
        );
    }

    #[test]
    fn mask_settings_only_go_with_a_mask_rule() {
        let classes = [(
            "c.yaml",
            "classes:\n  - id: pii.email\n    level: confidential\n    columns: ['*email*']\n",
        )];
        let bad = [
            "rules:\n  - id: r\n    match: {kind: SELECT}\n    action: block\n    mask: {style: full}\n",
            "rules:\n  - id: r\n    match: {kind: SELECT}\n    action: mask\n    mask: {style: hash, keep: 2}\n",
            "rules:\n  - id: r\n    match: {kind: SELECT}\n    action: mask\n    mask: {style: blur}\n",
        ];
        for rules in bad {
            assert!(
                Policy::from_yaml_strs(&classes, &[("r.yaml", rules)]).is_err(),
                "{rules}"
            );
        }
        let ok = "rules:\n  - id: r\n    match: {kind: SELECT}\n    action: mask\n";
        let p = Policy::from_yaml_strs(&classes, &[("r.yaml", ok)]).unwrap();
        let cols = vec!["users.email".to_string()];
        let v = p.evaluate(&crate::policy::EvalContext {
            kind: "SELECT",
            columns: &cols,
            ..crate::policy::EvalContext::empty()
        });
        // No `match.classes`: the classes the statement touched, fully masked.
        assert_eq!(v.masks[0].classes, vec!["pii.email".to_string()]);
        assert_eq!(v.masks[0].style, MaskStyle::Full);
    }
}

//! The members registry's rules, free of I/O: ID numbers, statuses,
//! catalogues, settings, and what makes a member record valid.

pub mod convener;
pub mod evaluation;
pub mod id_number;
pub mod member;
pub mod settings;
pub mod status;

pub use id_number::IdNumber;
pub use status::{IllegalTransition, MemberStatus};

use cppcc_proto::members::v1 as pb;

/// A member's gender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gender {
    Male,
    Female,
}

impl Gender {
    /// The protobuf (and database) number.
    pub fn number(self) -> i16 {
        match self {
            Gender::Male => pb::Gender::Male as i16,
            Gender::Female => pb::Gender::Female as i16,
        }
    }

    /// From the protobuf number.
    pub fn from_number(n: i32) -> Option<Gender> {
        match pb::Gender::try_from(n).ok()? {
            pb::Gender::Male => Some(Gender::Male),
            pb::Gender::Female => Some(Gender::Female),
            pb::Gender::Unspecified => None,
        }
    }
}

/// The 56 ethnic groups (民族) of China, in the order of GB 3304.
pub const ETHNICITIES: [&str; 56] = [
    "汉族",
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
];

/// The full name of an ethnic group, accepting the short form (`汉` → `汉族`).
pub fn ethnicity(text: &str) -> Option<&'static str> {
    let text = text.trim();
    ETHNICITIES
        .iter()
        .copied()
        .find(|e| *e == text || e.strip_suffix('族') == Some(text))
}

/// Checks a text field: trimmed, between `min` and `max` characters, no
/// control characters. Returns the trimmed text or why it is invalid.
pub fn text(value: &str, min: usize, max: usize) -> Result<String, String> {
    cppcc_kit::text::line(value, min, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ethnicities() {
        let unique: std::collections::HashSet<_> = ETHNICITIES.iter().collect();
        assert_eq!(unique.len(), 56);
        assert_eq!(ethnicity("汉"), Some("汉族"));
        assert_eq!(ethnicity("维吾尔族"), Some("维吾尔族"));
        assert_eq!(ethnicity("火星族"), None);
        assert_eq!(ethnicity(""), None);
    }

    #[test]
    fn texts() {
        assert_eq!(text("  刘强 ", 1, 30), Ok("刘强".into()));
        assert_eq!(text(" ", 1, 30), Err("must not be empty".into()));
        assert!(
            text(&"张".repeat(31), 1, 30)
                .unwrap_err()
                .contains("at most 30")
        );
        assert!(text("a\u{7}b", 1, 30).unwrap_err().contains("control"));
        assert_eq!(text("", 0, 30), Ok(String::new()));
    }

    #[test]
    fn genders() {
        for g in [Gender::Male, Gender::Female] {
            assert_eq!(Gender::from_number(g.number().into()), Some(g));
        }
        assert_eq!(Gender::from_number(0), None);
    }
}

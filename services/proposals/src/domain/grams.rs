//! Character pairs (bigrams) of a proposal's words, for finding similar
//! proposals. Chinese is written without spaces, so words are not split
//! out: every two neighbouring letters of a run make a pair, and the pairs
//! two texts share say how alike they are (a pair index works for any
//! script, and PostgreSQL keeps them in a GIN index).

use std::collections::BTreeSet;

/// Pairs too common in proposals to tell two apart.
const COMMON: &[&str] = &[
    "关于", "建议", "提案", "进一", "一步", "加强", "加快", "推进", "我县", "随县", "问题", "工作",
    "发展", "的建", "的提", "推动", "有关", "进行",
];

/// The pairs of `text`: lower-cased, split at anything not a letter or
/// digit, common pairs left out; sorted, each once.
pub fn grams(text: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    for run in text.split(|c: char| !c.is_alphanumeric()) {
        let chars: Vec<char> = run.chars().flat_map(char::to_lowercase).collect();
        if chars.len() == 1 && !chars[0].is_ascii() {
            out.insert(chars[0].to_string());
        }
        for pair in chars.windows(2) {
            let gram: String = pair.iter().collect();
            if !COMMON.contains(&gram.as_str()) && !gram.contains('的') {
                out.insert(gram);
            }
        }
    }
    out.into_iter().collect()
}

/// How alike two sets of pairs are, 0..1 (Dice's coefficient).
pub fn similarity(a: &[String], b: &[String]) -> f64 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let b: BTreeSet<&String> = b.iter().collect();
    let shared = a.iter().filter(|g| b.contains(g)).count();
    2.0 * shared as f64 / (a.len() + b.len()) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_paired_by_characters_and_punctuation_splits() {
        assert_eq!(grams("香菇产业"), ["产业", "菇产", "香菇"]);
        // Punctuation and spaces split runs; common pairs are left out.
        assert_eq!(grams("关于香菇，产业"), ["于香", "产业", "香菇"]);
        assert_eq!(grams("菇"), ["菇"]);
        assert_eq!(grams("GDP 增长"), ["dp", "gd", "增长"]);
    }

    #[test]
    fn alike_proposals_score_higher_than_unalike_ones() {
        let draft = grams("关于加快香菇产业高质量发展的建议");
        let same_topic = grams("推动香菇产业高质量发展");
        let other = grams("关于改善农村公共卫生条件的建议");
        let close = similarity(&draft, &same_topic);
        let far = similarity(&draft, &other);
        assert!(close > 0.5, "{close}");
        assert!(far < 0.2, "{far}");
        assert_eq!(similarity(&draft, &draft), 1.0);
        assert_eq!(similarity(&draft, &[]), 0.0);
    }
}

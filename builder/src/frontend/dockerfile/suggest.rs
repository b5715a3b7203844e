//! "Did you mean" suggestions for misspelt keywords.

/// Optimal-string-alignment distance: Levenshtein plus adjacent
/// transpositions, so `FORM` is one edit away from `FROM`.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate, compared case-insensitively, if it is close enough
/// to be a plausible typo (one edit for short words, two for longer ones).
pub fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // The distance is at least the difference in length, so a word much
    // longer than every candidate has no suggestion; checking that first
    // keeps a 2 MB garbage "keyword" from costing an edit-distance table
    // of 2 MB × candidate length (seconds) per candidate.
    let longest = candidates.iter().map(|c| c.chars().count()).max()?;
    let len = word.chars().take(longest + 3).count();
    if len > longest + 2 {
        return None;
    }
    let upper = word.to_ascii_uppercase();
    let limit = if len >= 5 { 2 } else { 1 };
    candidates
        .iter()
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (edit_distance(&upper, &c.to_ascii_uppercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(edit_distance("RUNN", "RUN"), 1);
        assert_eq!(edit_distance("FORM", "FROM"), 1);
        assert_eq!(edit_distance("", "ABC"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn closest_picks_plausible_typos_only() {
        let c = ["RUN", "FROM", "COPY", "ENTRYPOINT"];
        assert_eq!(closest("runn", &c), Some("RUN"));
        assert_eq!(closest("FORM", &c), Some("FROM"));
        assert_eq!(closest("ENTRYPONT", &c), Some("ENTRYPOINT"));
        assert_eq!(closest("XYZZY", &c), None);
        assert_eq!(closest(&"R".repeat(1 << 20), &c), None);
    }
}

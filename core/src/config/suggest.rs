//! "Did you mean ...?" by edit distance. Also used by discovery for unknown script names.

/// The candidate closest to `input` (case-insensitively), if it is close enough to be a likely
/// typo: at most one edit per three characters of input, and at least one. Ties go to the
/// earlier candidate, so the answer is deterministic.
pub(crate) fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input: Vec<char> = input.to_lowercase().chars().collect();
    let limit = (input.len() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let lowered: Vec<char> = candidate.to_lowercase().chars().collect();
        let distance = edit_distance(&input, &lowered);
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions of
/// adjacent characters each cost one (`bsu` to `bus` is one edit).
pub(crate) fn edit_distance(a: &[char], b: &[char]) -> usize {
    // rows[i][j] = distance between a[..i] and b[..j]; three rolling rows suffice.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (previous[j] + 1).min(current[j - 1] + 1).min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(before[j - 2] + 1);
            }
            current[j] = d;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        edit_distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
    }

    #[test]
    fn counts_edits() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("abc", ""), 3);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("kitten", "sitting"), 3);
        assert_eq!(distance("bus_wrokers", "bus_workers"), 1);
        assert_eq!(distance("bsu", "bus"), 1);
        assert_eq!(distance("bus_worker", "bus_workers"), 1);
    }

    #[test]
    fn suggests_the_closest_likely_typo() {
        let keys = ["bus_workers", "bus_batch", "urls_max", "errors_max"];
        assert_eq!(closest("bus_wrokers", keys), Some("bus_workers"));
        assert_eq!(closest("BUS_WORKERS", keys), Some("bus_workers"));
        assert_eq!(closest("bus_btach", keys), Some("bus_batch"));
        assert_eq!(closest("url_max", keys), Some("urls_max"));
        assert_eq!(closest("frobnicate", keys), None);
        assert_eq!(closest("", keys), None);
    }

    #[test]
    fn ties_go_to_the_first_candidate() {
        assert_eq!(closest("ab", ["aa", "bb", "ac"]), Some("aa"));
    }
}

//! "Did you mean ...?" by edit distance. Also used by discovery for unknown script names.

/// The candidate closest to `input` (case-insensitively), if it is close enough to be a likely
/// typo: at most one edit per three characters of input, and at least one. Ties go to the
/// earlier candidate, so the answer is deterministic.
pub(crate) fn closest<'a>(input: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let input = input.to_lowercase();
    let limit = (input.chars().count() / 3).max(1);
    let mut best: Option<(usize, &'a str)> = None;
    for candidate in candidates {
        let distance = edit_distance(&input, &candidate.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// Optimal string alignment distance, in characters: insertions, deletions, substitutions and
/// transpositions of adjacent characters each cost one (`bsu` to `bus` is one edit).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    strsim::osa_distance(a, b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        edit_distance(a, b)
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
        // Characters, not bytes: one substitution.
        assert_eq!(distance("café", "cafe"), 1);
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

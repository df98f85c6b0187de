//! Rendezvous (highest random weight) hashing: which live member of a region owns a target.
//!
//! Every member scores every target with a hash of (member, target); the highest score owns
//! it. All nodes compute the same owner from the same member list without talking to each
//! other, targets spread evenly, and a member joining or leaving moves only the targets it
//! takes or gives up. The hash is XXH3-64, a fixed algorithm, so nodes built apart agree.

use xxhash_rust::xxh3::xxh3_64;

/// The score of `member` for `target`.
pub fn score(member: &str, target: &str) -> u64 {
    // A 0 byte between the two, which names never contain, so ("ab", "c") ≠ ("a", "bc").
    let mut buf = Vec::with_capacity(member.len() + target.len() + 1);
    buf.extend_from_slice(member.as_bytes());
    buf.push(0);
    buf.extend_from_slice(target.as_bytes());
    xxh3_64(&buf)
}

/// The member that owns `target`, `None` when there are no members. Ties (astronomically
/// rare) go to the smaller name, so the answer never depends on the list's order.
pub fn owner<'a>(members: &[&'a str], target: &str) -> Option<&'a str> {
    members
        .iter()
        .copied()
        .max_by(|a, b| score(a, target).cmp(&score(b, target)).then(b.cmp(a)))
}

/// All members ordered by preference for `target` (the owner first): the next ones take over
/// when the first is gone, or share the target when more than one prober is wanted.
pub fn ranked<'a>(members: &[&'a str], target: &str) -> Vec<&'a str> {
    let mut m: Vec<&str> = members.to_vec();
    m.sort_by(|a, b| score(b, target).cmp(&score(a, target)).then(a.cmp(b)));
    m.dedup();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn targets(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("http://10.0.{}.{}/health", i / 250, i % 250))
            .collect()
    }

    #[test]
    fn rendezvous_no_members_no_owner() {
        assert_eq!(owner(&[], "t"), None);
        assert!(ranked(&[], "t").is_empty());
    }

    #[test]
    fn rendezvous_order_of_members_does_not_matter() {
        for t in targets(200) {
            assert_eq!(owner(&["a", "b", "c"], &t), owner(&["c", "a", "b"], &t));
            assert_eq!(ranked(&["a", "b", "c"], &t), ranked(&["b", "c", "a"], &t));
            assert_eq!(
                ranked(&["a", "b", "c"], &t)[0],
                owner(&["a", "b", "c"], &t).unwrap()
            );
        }
    }

    #[test]
    fn rendezvous_is_balanced() {
        let members = ["ns1", "ns2", "ns3"];
        let ts = targets(3000);
        let mut count: HashMap<&str, usize> = HashMap::new();
        for t in &ts {
            *count.entry(owner(&members, t).unwrap()).or_default() += 1;
        }
        for m in members {
            let c = count[m];
            // 1000 expected; ±12 % is far outside what a fair hash produces by chance.
            assert!((880..=1120).contains(&c), "{m} owns {c} of 3000: {count:?}");
        }
    }

    #[test]
    fn rendezvous_join_and_leave_move_only_what_they_must() {
        let before = ["ns1", "ns2", "ns3"];
        let after = ["ns1", "ns2", "ns3", "ns4"];
        let ts = targets(2000);
        let mut moved = 0;
        for t in &ts {
            let (a, b) = (owner(&before, t).unwrap(), owner(&after, t).unwrap());
            if a != b {
                assert_eq!(b, "ns4", "a join moves targets only to the newcomer");
                moved += 1;
            }
        }
        // About a quarter moves to the fourth member.
        assert!((400..=600).contains(&moved), "moved {moved} of 2000");

        let left = ["ns1", "ns3"];
        for t in &ts {
            let (a, b) = (owner(&before, t).unwrap(), owner(&left, t).unwrap());
            if a != "ns2" {
                assert_eq!(a, b, "a leave moves only the leaver's targets");
            }
        }
    }

    #[test]
    fn rendezvous_is_a_fixed_function() {
        // Pinned values: another build (or another version of the hash crate) must agree.
        assert_eq!(score("ns1", "t"), xxh3_64(b"ns1\0t"));
        assert_eq!(xxh3_64(b""), 0x2D06800538D394C2);
    }
}

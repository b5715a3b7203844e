//! Device rules on a v1 `devices` hierarchy, written as the difference
//! between what the cgroup has (`devices.list`) and what it must have.
//!
//! Writing the rules one by one is not enough: an "a" line (every device)
//! resets the default and drops all exceptions, which the kernel refuses
//! with EINVAL once the cgroup has a child cgroup (a container running
//! its own cgroups), and which briefly takes away devices the container is
//! using. So the rules are first applied to a model of the cgroup's list,
//! and only the lines that change something are written: an "a" line only
//! when the default itself changes.

use super::rules::{ACC_MKNOD, ACC_READ, ACC_WRITE, Kind, Rule};
use std::collections::{BTreeMap, BTreeSet};

/// (kind, major, minor); `None` numbers are the kernel's `*`.
type Key = (char, Option<u32>, Option<u32>);

/// A v1 devices cgroup: its default, and the exceptions to it with their
/// access bits (allowed devices when the default is deny, denied ones when
/// it is allow).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct List {
    pub allow_default: bool,
    pub exceptions: BTreeMap<Key, u32>,
    /// Keys in the order they first became exceptions. New exceptions are
    /// written in this order, so `devices.list` (which the kernel keeps in
    /// write order) lists the spec's rules in the spec's order, before
    /// rt's defaults: runtime-tools checks that order, and it is what a
    /// reader of the spec expects to see.
    order: Vec<Key>,
}

impl List {
    /// Reads `devices.list`. With an allow default the kernel prints only
    /// `a *:* rwm`, so the deny exceptions of such a cgroup are unknown
    /// (rt never makes one; they are taken as none).
    pub fn parse(text: &str) -> List {
        let mut list = List {
            allow_default: false,
            exceptions: BTreeMap::new(),
            order: Vec::new(),
        };
        for line in text.lines() {
            let mut f = line.split_whitespace();
            let (Some(kind), Some(numbers), Some(access)) = (f.next(), f.next(), f.next()) else {
                continue;
            };
            if kind == "a" {
                list.allow_default = true;
                list.exceptions.clear();
                list.order.clear();
                break;
            }
            let Some(kind) = kind.chars().next() else {
                continue;
            };
            let (major, minor) = numbers.split_once(':').unwrap_or((numbers, "*"));
            let key = (kind, major.parse().ok(), minor.parse().ok());
            list.add(key, access_bits(access));
        }
        list
    }

    /// The list after the kernel applied `rule` (devcgroup_update_access).
    pub fn apply(&mut self, rule: &Rule) {
        let Some(kind) = rule.kind else {
            self.allow_default = rule.allow;
            self.exceptions.clear();
            self.order.clear();
            return;
        };
        let key = (kind_char(kind), rule.major, rule.minor);
        if rule.allow == self.allow_default {
            // Same as the default: takes these bits out of the exception.
            if let Some(bits) = self.exceptions.get_mut(&key) {
                *bits &= !rule.access;
                if *bits == 0 {
                    self.exceptions.remove(&key);
                }
            }
        } else {
            self.add(key, rule.access);
        }
    }

    fn add(&mut self, key: Key, bits: u32) {
        if bits == 0 {
            return;
        }
        let entry = self.exceptions.entry(key).or_default();
        if *entry == 0 {
            self.order.push(key);
        }
        *entry |= bits;
    }

    /// The exceptions in the order they were made, each once.
    fn in_order(&self) -> impl Iterator<Item = (&Key, &u32)> {
        let mut seen = BTreeSet::new();
        self.order
            .iter()
            .filter(move |k| seen.insert(**k))
            .filter_map(|k| self.exceptions.get_key_value(k))
    }

    /// (file, line) writes that turn `self` into `target`.
    pub fn transition(&self, target: &List) -> Vec<(&'static str, String)> {
        let file = |allow: bool| {
            if allow {
                "devices.allow"
            } else {
                "devices.deny"
            }
        };
        // Exceptions go to the file opposite the default.
        let add = file(!target.allow_default);
        let remove = file(target.allow_default);
        let mut writes = Vec::new();
        let mut current = &self.exceptions;
        let empty = BTreeMap::new();
        if self.allow_default != target.allow_default {
            writes.push((file(target.allow_default), "a".to_string()));
            current = &empty;
        }
        for (key, bits) in target.in_order() {
            let new = bits & !current.get(key).copied().unwrap_or(0);
            if new != 0 {
                writes.push((add, line(key, new)));
            }
        }
        for (key, bits) in current {
            let gone = bits & !target.exceptions.get(key).copied().unwrap_or(0);
            if gone != 0 {
                writes.push((remove, line(key, gone)));
            }
        }
        writes
    }
}

fn kind_char(kind: Kind) -> char {
    match kind {
        Kind::Block => 'b',
        Kind::Char => 'c',
    }
}

fn access_bits(s: &str) -> u32 {
    s.chars().fold(0, |acc, c| match c {
        'r' => acc | ACC_READ,
        'w' => acc | ACC_WRITE,
        'm' => acc | ACC_MKNOD,
        _ => acc,
    })
}

/// `c 1:3 rwm`, as devices.allow/deny read it.
fn line(key: &Key, bits: u32) -> String {
    let num = |n: Option<u32>| n.map_or("*".to_string(), |n| n.to_string());
    let mut access = String::new();
    for (bit, c) in [(ACC_READ, 'r'), (ACC_WRITE, 'w'), (ACC_MKNOD, 'm')] {
        if bits & bit != 0 {
            access.push(c);
        }
    }
    format!("{} {}:{} {access}", key.0, num(key.1), num(key.2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::devices::rules::ACC_ALL;

    fn rule(allow: bool, kind: Option<Kind>, mm: Option<(u32, u32)>, access: u32) -> Rule {
        Rule {
            allow,
            kind,
            major: mm.map(|m| m.0),
            minor: mm.map(|m| m.1),
            access,
        }
    }

    fn after(start: &str, rules: &[Rule]) -> List {
        let mut l = List::parse(start);
        for r in rules {
            l.apply(r);
        }
        l
    }

    #[test]
    fn fresh_cgroup_gets_deny_all_then_its_exceptions() {
        let rules = [
            rule(false, None, None, ACC_ALL),
            rule(true, Some(Kind::Char), Some((1, 3)), ACC_ALL),
            rule(true, Some(Kind::Char), Some((1, 5)), ACC_READ),
        ];
        let from = List::parse("a *:* rwm\n");
        let to = after("a *:* rwm\n", &rules);
        assert_eq!(
            from.transition(&to),
            [
                ("devices.deny", "a".to_string()),
                ("devices.allow", "c 1:3 rwm".to_string()),
                ("devices.allow", "c 1:5 r".to_string()),
            ]
        );
    }

    #[test]
    fn same_default_writes_only_differences_and_never_a() {
        // The full list again, minus 1:5, plus block 8:0 read: what an
        // update of a running deny-all container sends.
        let current = "c 1:3 rwm\nc 1:5 rwm\nc 136:* rwm\n";
        let pts = Rule {
            allow: true,
            kind: Some(Kind::Char),
            major: Some(136),
            minor: None,
            access: ACC_ALL,
        };
        let rules = [
            rule(false, None, None, ACC_ALL),
            rule(true, Some(Kind::Char), Some((1, 3)), ACC_ALL),
            pts,
            rule(true, Some(Kind::Block), Some((8, 0)), ACC_READ),
        ];
        let writes = List::parse(current).transition(&after(current, &rules));
        assert_eq!(
            writes,
            [
                ("devices.allow", "b 8:0 r".to_string()),
                ("devices.deny", "c 1:5 rwm".to_string()),
            ]
        );
        assert!(
            List::parse(current)
                .transition(&List::parse(current))
                .is_empty()
        );
    }

    #[test]
    fn new_exceptions_are_written_in_rule_order() {
        // runtime-tools' linux_cgroups_devices reads devices.list back and
        // wants the spec's allow rules first, in the spec's order, even
        // where a sorted list would put the defaults (b *:* m) first.
        let rules = [
            rule(false, None, None, ACC_ALL),
            rule(true, Some(Kind::Char), Some((10, 229)), ACC_ALL),
            rule(true, Some(Kind::Block), Some((8, 20)), ACC_READ | ACC_WRITE),
            rule(true, Some(Kind::Char), Some((1, 3)), ACC_ALL),
            Rule {
                allow: true,
                kind: Some(Kind::Block),
                major: None,
                minor: None,
                access: ACC_MKNOD,
            },
            rule(true, Some(Kind::Char), Some((10, 229)), ACC_READ),
        ];
        let from = List::parse("a *:* rwm\n");
        let lines: Vec<String> = from
            .transition(&after("a *:* rwm\n", &rules))
            .into_iter()
            .map(|(_, l)| l)
            .collect();
        assert_eq!(
            lines,
            ["a", "c 10:229 rwm", "b 8:20 rw", "c 1:3 rwm", "b *:* m"]
        );
    }

    #[test]
    fn deny_of_an_allowed_device_removes_its_bits() {
        let mut l = List::parse("c 1:5 rwm\n");
        l.apply(&rule(false, Some(Kind::Char), Some((1, 5)), ACC_WRITE));
        assert_eq!(
            l.exceptions.get(&('c', Some(1), Some(5))),
            Some(&(ACC_READ | ACC_MKNOD))
        );
        l.apply(&rule(false, Some(Kind::Char), Some((1, 5)), ACC_ALL));
        assert!(l.exceptions.is_empty());
    }
}

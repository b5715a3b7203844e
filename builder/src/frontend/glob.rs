//! A small glob engine shared by `${v#pattern}`-style substitutions and the
//! `.dockerignore` matcher.
//!
//! Patterns are compiled to a Thompson NFA and simulated with state sets, so
//! matching costs O(pattern × text) whatever the input: a pathological
//! pattern like `*a*a*a*a*b` cannot make the builder hang, which matters
//! because both patterns and values come from user files.

/// One character-level test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CharTest {
    /// Exactly this character.
    Literal(char),
    /// Any character at all.
    Any,
    /// Any character except this one (`?` in paths: anything but `/`).
    AnyExcept(char),
    /// `[...]`: inclusive ranges, optionally negated.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl CharTest {
    fn accepts(&self, c: char) -> bool {
        match self {
            CharTest::Literal(l) => *l == c,
            CharTest::Any => true,
            CharTest::AnyExcept(x) => *x != c,
            CharTest::Class { negated, ranges } => {
                ranges.iter().any(|(lo, hi)| *lo <= c && c <= *hi) != *negated
            }
        }
    }
}

/// A pattern element, before compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Consumes one character passing the test.
    One(CharTest),
    /// Consumes zero or more characters passing the test (`*`).
    Many(CharTest),
    /// Zero or more whole path components followed by `/`: the regex
    /// `(.*/)?` that `.dockerignore` uses for `**/`.
    DirPrefix,
}

#[derive(Debug, Clone)]
enum Node {
    Consume(CharTest, usize),
    Split(usize, usize),
    Accept,
}

/// A compiled pattern that must match a whole string.
#[derive(Debug, Clone)]
pub struct Glob {
    nodes: Vec<Node>,
    start: usize,
}

impl Glob {
    pub fn new(pieces: &[Piece]) -> Glob {
        let mut nodes = vec![Node::Accept];
        let mut next = 0;
        // Built back to front so every node knows its successor.
        for piece in pieces.iter().rev() {
            match piece {
                Piece::One(test) => {
                    nodes.push(Node::Consume(test.clone(), next));
                    next = nodes.len() - 1;
                }
                Piece::Many(test) => {
                    let lp = nodes.len();
                    nodes.push(Node::Split(lp + 1, next));
                    nodes.push(Node::Consume(test.clone(), lp));
                    next = lp;
                }
                Piece::DirPrefix => {
                    // S: split(A, next); A: split(B, C); B: any -> A; C: '/' -> next
                    let s = nodes.len();
                    let a = s + 1;
                    nodes.push(Node::Split(a, next));
                    nodes.push(Node::Split(a + 1, a + 2));
                    nodes.push(Node::Consume(CharTest::Any, a));
                    nodes.push(Node::Consume(CharTest::Literal('/'), next));
                    next = s;
                }
            }
        }
        Glob { nodes, start: next }
    }

    fn add_state(&self, set: &mut [bool], list: &mut Vec<usize>, state: usize) {
        let mut stack = vec![state];
        while let Some(s) = stack.pop() {
            if set[s] {
                continue;
            }
            set[s] = true;
            list.push(s);
            if let Node::Split(a, b) = self.nodes[s] {
                stack.push(b);
                stack.push(a);
            }
        }
    }

    fn accepting(&self, list: &[usize]) -> bool {
        list.iter().any(|&s| matches!(self.nodes[s], Node::Accept))
    }

    /// For each prefix length `0..=text.len()`, whether the pattern matches
    /// exactly `text[..len]`.
    pub fn prefix_matches(&self, text: &[char]) -> Vec<bool> {
        let n = self.nodes.len();
        let mut out = Vec::with_capacity(text.len() + 1);
        let mut set = vec![false; n];
        let mut list = Vec::new();
        self.add_state(&mut set, &mut list, self.start);
        out.push(self.accepting(&list));
        for &c in text {
            let mut next_set = vec![false; n];
            let mut next_list = Vec::new();
            for &s in &list {
                if let Node::Consume(test, to) = &self.nodes[s]
                    && test.accepts(c)
                {
                    self.add_state(&mut next_set, &mut next_list, *to);
                }
            }
            list = next_list;
            out.push(self.accepting(&list));
            if list.is_empty() {
                // Dead: no longer prefix can match either.
                out.resize(text.len() + 1, false);
                break;
            }
        }
        out
    }

    pub fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        *self
            .prefix_matches(&chars)
            .last()
            .expect("prefix_matches returns len+1 entries")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Vec<Piece> {
        s.chars()
            .map(|c| Piece::One(CharTest::Literal(c)))
            .collect()
    }

    #[test]
    fn literal_must_match_whole_text() {
        let g = Glob::new(&lit("abc"));
        assert!(g.matches("abc"));
        assert!(!g.matches("abcd"));
        assert!(!g.matches("ab"));
    }

    #[test]
    fn star_respects_its_char_test() {
        let mut p = lit("a");
        p.push(Piece::Many(CharTest::AnyExcept('/')));
        let g = Glob::new(&p);
        assert!(g.matches("a"));
        assert!(g.matches("abc"));
        assert!(!g.matches("ab/c"));
    }

    #[test]
    fn dir_prefix_matches_zero_or_more_components() {
        let mut p = vec![Piece::DirPrefix];
        p.extend(lit("x"));
        let g = Glob::new(&p);
        assert!(g.matches("x"));
        assert!(g.matches("a/x"));
        assert!(g.matches("a/b/x"));
        assert!(!g.matches("ax"));
    }

    #[test]
    fn class_and_negated_class() {
        let g = Glob::new(&[Piece::One(CharTest::Class {
            negated: false,
            ranges: vec![('a', 'c')],
        })]);
        assert!(g.matches("b"));
        assert!(!g.matches("d"));
        let g = Glob::new(&[Piece::One(CharTest::Class {
            negated: true,
            ranges: vec![('a', 'c')],
        })]);
        assert!(!g.matches("b"));
        assert!(g.matches("d"));
    }

    #[test]
    fn prefix_matches_reports_every_length() {
        let mut p = lit("a");
        p.push(Piece::Many(CharTest::Any));
        let g = Glob::new(&p);
        let chars: Vec<char> = "abc".chars().collect();
        assert_eq!(g.prefix_matches(&chars), vec![false, true, true, true]);
    }

    #[test]
    fn pathological_pattern_stays_fast() {
        let mut p = Vec::new();
        for _ in 0..30 {
            p.push(Piece::Many(CharTest::Any));
            p.push(Piece::One(CharTest::Literal('a')));
        }
        p.push(Piece::One(CharTest::Literal('b')));
        let g = Glob::new(&p);
        let text = "a".repeat(5000);
        let start = std::time::Instant::now();
        assert!(!g.matches(&text));
        assert!(start.elapsed().as_secs() < 5);
    }
}

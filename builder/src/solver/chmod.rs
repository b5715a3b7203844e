//! `--chmod` values: octal (`755`, `0644`) or symbolic (`u=rwX,go=rX`,
//! `+x`, `a-w`), applied per entry (X only for dirs or already-executable
//! files, as chmod(1)).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chmod {
    Octal(u32),
    Symbolic(Vec<Clause>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    who: u32,
    op: char,
    perms: String,
}

pub fn parse(text: &str) -> Result<Chmod, String> {
    let bad =
        || format!("invalid --chmod={text:?}: expected octal (0755) or symbolic (u=rwX,go=rX)");
    if !text.is_empty() && text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        let v = u32::from_str_radix(text, 8).map_err(|_| bad())?;
        if v > 0o7777 {
            return Err(bad());
        }
        return Ok(Chmod::Octal(v));
    }
    let mut clauses = Vec::new();
    for part in text.split(',') {
        let op_at = part.find(['+', '-', '=']).ok_or_else(bad)?;
        let (who_s, rest) = part.split_at(op_at);
        let mut who = 0;
        for c in who_s.chars() {
            who |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => return Err(bad()),
            };
        }
        if who == 0 {
            who = 0o7777;
        }
        let op = rest.chars().next().ok_or_else(bad)?;
        let perms = &rest[1..];
        if !perms.chars().all(|c| "rwxXst".contains(c)) {
            return Err(bad());
        }
        clauses.push(Clause {
            who,
            op,
            perms: perms.to_string(),
        });
    }
    Ok(Chmod::Symbolic(clauses))
}

impl Chmod {
    /// The new permission bits for an entry with `mode`.
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(v) => *v,
            Chmod::Symbolic(clauses) => {
                let mut m = mode & 0o7777;
                for c in clauses {
                    let mut bits = 0;
                    for p in c.perms.chars() {
                        bits |= match p {
                            'r' => 0o444,
                            'w' => 0o222,
                            'x' => 0o111,
                            'X' if is_dir || mode & 0o111 != 0 => 0o111,
                            's' => 0o6000,
                            't' => 0o1000,
                            _ => 0,
                        };
                    }
                    bits &= c.who;
                    match c.op {
                        '+' => m |= bits,
                        '-' => m &= !bits,
                        _ => m = (m & !(c.who & 0o777)) | bits,
                    }
                }
                m
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_and_symbolic() {
        assert_eq!(parse("755").unwrap().apply(0o600, false), 0o755);
        let s = parse("u=rwX,go=rX").unwrap();
        assert_eq!(s.apply(0o600, false), 0o644);
        assert_eq!(s.apply(0o700, true), 0o755);
        assert_eq!(parse("+x").unwrap().apply(0o644, false), 0o755);
        assert_eq!(parse("a-w").unwrap().apply(0o664, false), 0o444);
        assert!(parse("u=q").is_err());
        assert!(parse("99").is_err());
        assert!(parse("").is_err());
    }
}

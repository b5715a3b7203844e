//! The D-Bus wire format, as far as systemd's manager API needs it: typed
//! values, their marshalling (we always write little-endian) and
//! unmarshalling (either byte order), and message framing.
//!
//! Rules from the D-Bus specification ("Marshaling (Wire Format)"): every
//! value is aligned to its natural size measured from the start of the
//! message (1 for y/g/v, 2 for n/q, 4 for b/i/u/s/o/a, 8 for x/t/d and
//! structs/dict entries); strings are a u32 length, the bytes and a NUL;
//! signatures a u8 length, the bytes and a NUL; an array is a u32 byte
//! length (not counting the padding before its first element) followed by
//! the elements; a variant is a signature followed by one value.

use crate::error::{Error, Result};

/// One D-Bus value. Arrays carry their element signature so that an empty
/// array still marshals with the right type.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Str(String),
    Path(String),
    Sig(String),
    Array { elem: String, items: Vec<Value> },
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(s.to_string())
    }

    pub fn variant(v: Value) -> Value {
        Value::Variant(Box::new(v))
    }

    /// The type signature of this value ("s", "a(sv)", ...).
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::I32(_) => "i".into(),
            Value::U32(_) => "u".into(),
            Value::I64(_) => "x".into(),
            Value::U64(_) => "t".into(),
            Value::Str(_) => "s".into(),
            Value::Path(_) => "o".into(),
            Value::Sig(_) => "g".into(),
            Value::Array { elem, .. } => format!("a{elem}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::Path(s) | Value::Sig(s) => Some(s),
            _ => None,
        }
    }
}

/// Alignment of a type, from the first character of its signature.
fn alignment(type_code: u8) -> usize {
    match type_code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 4,
    }
}

/// Appends marshalled values to a buffer whose offset 0 is the start of
/// the message (alignment is relative to it).
#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    fn pad(&mut self, align: usize) {
        while self.buf.len() % align != 0 {
            self.buf.push(0);
        }
    }

    fn u32(&mut self, v: u32) {
        self.pad(4);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    fn sig(&mut self, s: &str) {
        self.buf.push(s.len() as u8);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
    }

    pub fn value(&mut self, v: &Value) {
        match v {
            Value::Byte(b) => self.buf.push(*b),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::I32(i) => self.u32(*i as u32),
            Value::U32(u) => self.u32(*u),
            Value::I64(i) => {
                self.pad(8);
                self.buf.extend_from_slice(&i.to_le_bytes());
            }
            Value::U64(u) => {
                self.pad(8);
                self.buf.extend_from_slice(&u.to_le_bytes());
            }
            Value::Str(s) | Value::Path(s) => self.string(s),
            Value::Sig(s) => self.sig(s),
            Value::Array { elem, items } => {
                self.u32(0);
                let len_at = self.buf.len() - 4;
                self.pad(alignment(elem.as_bytes().first().copied().unwrap_or(b'y')));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let len = (self.buf.len() - start) as u32;
                self.buf[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
            }
            Value::Struct(fields) => {
                self.pad(8);
                for f in fields {
                    self.value(f);
                }
            }
            Value::DictEntry(k, v) => {
                self.pad(8);
                self.value(k);
                self.value(v);
            }
            Value::Variant(inner) => {
                self.sig(&inner.signature());
                self.value(inner);
            }
        }
    }
}

/// Splits the first complete type off a signature: "a(sv)s" → ("a(sv)", "s").
pub fn split_type(sig: &str) -> Result<(&str, &str)> {
    let b = sig.as_bytes();
    let end = complete_type_end(b, 0, 0)?;
    Ok((&sig[..end], &sig[end..]))
}

fn complete_type_end(b: &[u8], at: usize, depth: usize) -> Result<usize> {
    if depth > 32 {
        return Err(Error::new("D-Bus signature nested too deeply"));
    }
    let bad = || {
        Error::new(format!(
            "bad D-Bus signature {:?}",
            String::from_utf8_lossy(b)
        ))
    };
    match b.get(at).copied().ok_or_else(bad)? {
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b's' | b'o' | b'g'
        | b'v' | b'h' => Ok(at + 1),
        b'a' => complete_type_end(b, at + 1, depth + 1),
        open @ (b'(' | b'{') => {
            let close = if open == b'(' { b')' } else { b'}' };
            let mut i = at + 1;
            while b.get(i).copied().ok_or_else(bad)? != close {
                i = complete_type_end(b, i, depth + 1)?;
            }
            if i == at + 1 {
                return Err(bad());
            }
            Ok(i + 1)
        }
        _ => Err(bad()),
    }
}

/// Reads values from a received message; `base` is the offset of `buf[0]`
/// within the message, for alignment.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
    big_endian: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize, big_endian: bool) -> Self {
        Reader {
            buf,
            pos: 0,
            base,
            big_endian,
        }
    }

    fn short() -> Error {
        Error::new("D-Bus message truncated")
    }

    fn align(&mut self, a: usize) -> Result<()> {
        while (self.base + self.pos) % a != 0 {
            self.pos += 1;
        }
        if self.pos > self.buf.len() {
            return Err(Self::short());
        }
        Ok(())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(Self::short)?;
        let s = self.buf.get(self.pos..end).ok_or_else(Self::short)?;
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32> {
        self.align(4)?;
        let b: [u8; 4] = self.take(4)?.try_into().expect("4 bytes");
        Ok(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn u64(&mut self) -> Result<u64> {
        self.align(8)?;
        let b: [u8; 8] = self.take(8)?.try_into().expect("8 bytes");
        Ok(if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }

    fn text(&mut self, len: usize) -> Result<String> {
        let bytes = self.take(len)?;
        if self.take(1)? != [0] {
            return Err(Error::new("D-Bus string not NUL-terminated"));
        }
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::new("D-Bus string is not UTF-8"))
    }

    fn sig(&mut self) -> Result<String> {
        let len = self.take(1)?[0] as usize;
        self.text(len)
    }

    /// Reads the values of a whole signature ("sa{sv}as").
    pub fn values(&mut self, mut sig: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        while !sig.is_empty() {
            let (one, rest) = split_type(sig)?;
            out.push(self.value(one, 0)?);
            sig = rest;
        }
        Ok(out)
    }

    /// Reads one value of the complete type `sig`.
    pub fn value(&mut self, sig: &str, depth: usize) -> Result<Value> {
        if depth > 64 {
            return Err(Error::new("D-Bus value nested too deeply"));
        }
        let code = sig.as_bytes()[0];
        Ok(match code {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => Value::Bool(self.u32()? != 0),
            b'n' | b'q' => {
                self.align(2)?;
                let b: [u8; 2] = self.take(2)?.try_into().expect("2 bytes");
                let v = if self.big_endian {
                    u16::from_be_bytes(b)
                } else {
                    u16::from_le_bytes(b)
                };
                Value::U32(u32::from(v))
            }
            b'i' => Value::I32(self.u32()? as i32),
            b'u' | b'h' => Value::U32(self.u32()?),
            b'x' => Value::I64(self.u64()? as i64),
            b't' | b'd' => Value::U64(self.u64()?),
            b's' | b'o' => {
                let len = self.u32()? as usize;
                let s = self.text(len)?;
                if code == b's' {
                    Value::Str(s)
                } else {
                    Value::Path(s)
                }
            }
            b'g' => Value::Sig(self.sig()?),
            b'v' => {
                let inner_sig = self.sig()?;
                let (one, rest) = split_type(&inner_sig)?;
                if !rest.is_empty() {
                    return Err(Error::new("D-Bus variant holds more than one type"));
                }
                Value::Variant(Box::new(self.value(one, depth + 1)?))
            }
            b'a' => {
                let len = self.u32()? as usize;
                let elem = &sig[1..];
                self.align(alignment(elem.as_bytes()[0]))?;
                let end = self.pos.checked_add(len).ok_or_else(Self::short)?;
                if end > self.buf.len() {
                    return Err(Self::short());
                }
                let mut items = Vec::new();
                while self.pos < end {
                    items.push(self.value(elem, depth + 1)?);
                }
                if self.pos != end {
                    return Err(Error::new("D-Bus array length mismatch"));
                }
                Value::Array {
                    elem: elem.to_string(),
                    items,
                }
            }
            b'(' => {
                self.align(8)?;
                let mut fields = Vec::new();
                let mut inner = &sig[1..sig.len() - 1];
                while !inner.is_empty() {
                    let (one, rest) = split_type(inner)?;
                    fields.push(self.value(one, depth + 1)?);
                    inner = rest;
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                let inner = &sig[1..sig.len() - 1];
                let (k, v) = split_type(inner)?;
                let key = self.value(k, depth + 1)?;
                let val = self.value(v, depth + 1)?;
                Value::DictEntry(Box::new(key), Box::new(val))
            }
            _ => return Err(Error::new(format!("unsupported D-Bus type {sig:?}"))),
        })
    }
}

/// Message types (header byte 1).
pub const METHOD_CALL: u8 = 1;
pub const METHOD_RETURN: u8 = 2;
pub const ERROR: u8 = 3;
pub const SIGNAL: u8 = 4;

// Header field codes.
const F_PATH: u8 = 1;
const F_INTERFACE: u8 = 2;
const F_MEMBER: u8 = 3;
const F_ERROR_NAME: u8 = 4;
const F_REPLY_SERIAL: u8 = 5;
const F_DESTINATION: u8 = 6;
const F_SENDER: u8 = 7;
const F_SIGNATURE: u8 = 8;

/// A method call to send.
pub struct Call<'a> {
    pub destination: Option<&'a str>,
    pub path: &'a str,
    pub interface: &'a str,
    pub member: &'a str,
    pub args: &'a [Value],
}

impl Call<'_> {
    /// The whole message: fixed header, header fields, padding, body.
    pub fn encode(&self, serial: u32) -> Vec<u8> {
        let mut body = Writer::default();
        for a in self.args {
            body.value(a);
        }
        let sig: String = self.args.iter().map(Value::signature).collect();
        let field = |code: u8, v: Value| Value::Struct(vec![Value::Byte(code), Value::variant(v)]);
        let mut fields = vec![
            field(F_PATH, Value::Path(self.path.into())),
            field(F_INTERFACE, Value::str(self.interface)),
            field(F_MEMBER, Value::str(self.member)),
        ];
        if let Some(d) = self.destination {
            fields.push(field(F_DESTINATION, Value::str(d)));
        }
        if !sig.is_empty() {
            fields.push(field(F_SIGNATURE, Value::Sig(sig)));
        }
        let mut w = Writer::default();
        w.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
        w.buf
            .extend_from_slice(&(body.buf.len() as u32).to_le_bytes());
        w.buf.extend_from_slice(&serial.to_le_bytes());
        w.value(&Value::Array {
            elem: "(yv)".into(),
            items: fields,
        });
        w.pad(8);
        w.buf.extend_from_slice(&body.buf);
        w.buf
    }
}

/// A received message (reply, error or signal).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Message {
    pub kind: u8,
    pub serial: u32,
    pub reply_serial: Option<u32>,
    pub path: Option<String>,
    pub interface: Option<String>,
    pub member: Option<String>,
    pub error_name: Option<String>,
    pub sender: Option<String>,
    pub body: Vec<Value>,
}

/// Largest message we accept (the spec's limit is 128 MiB; systemd's
/// replies to us are tiny).
const MAX_MESSAGE: usize = 16 << 20;

/// Total length of the message at the start of `buf`, once its fixed
/// header is there (None: need more bytes).
pub fn message_len(buf: &[u8]) -> Result<Option<usize>> {
    if buf.len() < 16 {
        return Ok(None);
    }
    let big = match buf[0] {
        b'l' => false,
        b'B' => true,
        other => return Err(Error::new(format!("bad D-Bus byte order mark {other:#x}"))),
    };
    let word = |at: usize| {
        let b: [u8; 4] = buf[at..at + 4].try_into().expect("4 bytes");
        (if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }) as usize
    };
    let body = word(4);
    let fields = word(12);
    let header = (16 + fields).next_multiple_of(8);
    let total = header.saturating_add(body);
    if total > MAX_MESSAGE {
        return Err(Error::new(format!(
            "D-Bus message too large ({total} bytes)"
        )));
    }
    Ok(Some(total))
}

/// Parses one complete message (as delimited by [`message_len`]).
pub fn decode(msg: &[u8]) -> Result<Message> {
    let big = msg.first() == Some(&b'B');
    let mut r = Reader::new(msg, 0, big);
    let fixed = r.take(4)?;
    if fixed[3] != 1 {
        return Err(Error::new(format!("D-Bus protocol version {}", fixed[3])));
    }
    let mut m = Message {
        kind: fixed[1],
        ..Default::default()
    };
    let body_len = r.u32()? as usize;
    m.serial = r.u32()?;
    let items = match r.value("a(yv)", 0)? {
        Value::Array { items, .. } => items,
        _ => Vec::new(),
    };
    let mut signature = String::new();
    for item in items {
        let Value::Struct(f) = item else { continue };
        let (Some(Value::Byte(code)), Some(Value::Variant(v))) = (f.first(), f.get(1)) else {
            continue;
        };
        let text = v.as_str().map(String::from);
        match (*code, v.as_ref()) {
            (F_PATH, _) => m.path = text,
            (F_INTERFACE, _) => m.interface = text,
            (F_MEMBER, _) => m.member = text,
            (F_ERROR_NAME, _) => m.error_name = text,
            (F_SENDER, _) => m.sender = text,
            (F_SIGNATURE, _) => signature = text.unwrap_or_default(),
            (F_REPLY_SERIAL, Value::U32(s)) => m.reply_serial = Some(*s),
            _ => {}
        }
    }
    r.align(8)?;
    let body_start = r.pos;
    if msg.len() != body_start + body_len {
        return Err(Error::new("D-Bus message length does not match its header"));
    }
    let mut body = Reader::new(&msg[body_start..], body_start, big);
    m.body = body.values(&signature)?;
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marshal(v: &Value) -> Vec<u8> {
        let mut w = Writer::default();
        w.value(v);
        w.buf
    }

    #[test]
    fn basic_types_follow_the_spec_layout() {
        // STRING: u32 length, bytes, NUL.
        assert_eq!(marshal(&Value::str("ab")), [2, 0, 0, 0, b'a', b'b', 0]);
        // SIGNATURE: u8 length, bytes, NUL.
        assert_eq!(marshal(&Value::Sig("as".into())), [2, b'a', b's', 0]);
        // BOOLEAN is a 4-byte 0/1.
        assert_eq!(marshal(&Value::Bool(true)), [1, 0, 0, 0]);
        assert_eq!(
            marshal(&Value::U64(0x0102030405060708)),
            [8, 7, 6, 5, 4, 3, 2, 1]
        );
    }

    #[test]
    fn array_length_excludes_padding_before_first_element() {
        // at [5]: length 8 at offset 0, 4 padding bytes to reach 8, the u64.
        let v = Value::Array {
            elem: "t".into(),
            items: vec![Value::U64(5)],
        };
        assert_eq!(
            marshal(&v),
            [8, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]
        );
        // An empty array of structs still pads to the struct alignment.
        let empty = Value::Array {
            elem: "(sv)".into(),
            items: vec![],
        };
        assert_eq!(marshal(&empty), [0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(empty.signature(), "a(sv)");
    }

    #[test]
    fn property_array_matches_hand_derived_bytes() {
        // a(sv) with one ("Delegate", <true>) and one ("PIDs", <[7]>).
        let v = Value::Array {
            elem: "(sv)".into(),
            items: vec![
                Value::Struct(vec![
                    Value::str("Delegate"),
                    Value::variant(Value::Bool(true)),
                ]),
                Value::Struct(vec![
                    Value::str("PIDs"),
                    Value::variant(Value::Array {
                        elem: "u".into(),
                        items: vec![Value::U32(7)],
                    }),
                ]),
            ],
        };
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            48, 0, 0, 0,                    // array byte length (offset 8 to 56)
            0, 0, 0, 0,                     // pad to 8 for the first struct
            8, 0, 0, 0, b'D', b'e', b'l', b'e', b'g', b'a', b't', b'e', 0, // "Delegate" (8..21)
            1, b'b', 0,                     // variant signature "b" (21..24)
            1, 0, 0, 0,                     // true (24..28)
            0, 0, 0, 0,                     // pad to 32 for the next struct
            4, 0, 0, 0, b'P', b'I', b'D', b's', 0, // "PIDs" (32..41)
            2, b'a', b'u', 0,               // variant signature "au" (41..45)
            0, 0, 0,                        // pad to 48
            4, 0, 0, 0,                     // array length 4
            7, 0, 0, 0,                     // 7 (52..56)
        ];
        assert_eq!(marshal(&v), want);
        let mut r = Reader::new(&want, 0, false);
        assert_eq!(r.value("a(sv)", 0).unwrap(), v);
    }

    #[test]
    fn hello_message_matches_hand_derived_bytes() {
        let call = Call {
            destination: Some("org.freedesktop.DBus"),
            path: "/org/freedesktop/DBus",
            interface: "org.freedesktop.DBus",
            member: "Hello",
            args: &[],
        };
        let got = call.encode(1);
        let mut want: Vec<u8> = vec![b'l', 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0];
        want.extend_from_slice(&[0, 0, 0, 0]); // fields length, patched below
        let mut push_field = |code: u8, sig: &[u8], s: &str| {
            while want.len() % 8 != 0 {
                want.push(0);
            }
            want.push(code);
            want.push(1);
            want.extend_from_slice(sig);
            want.push(0);
            want.extend_from_slice(&(s.len() as u32).to_le_bytes());
            want.extend_from_slice(s.as_bytes());
            want.push(0);
        };
        push_field(1, b"o", "/org/freedesktop/DBus");
        push_field(2, b"s", "org.freedesktop.DBus");
        push_field(3, b"s", "Hello");
        push_field(6, b"s", "org.freedesktop.DBus");
        let fields_len = (want.len() - 16) as u32;
        want[12..16].copy_from_slice(&fields_len.to_le_bytes());
        while want.len() % 8 != 0 {
            want.push(0);
        }
        assert_eq!(got, want);
        assert_eq!(message_len(&got).unwrap(), Some(got.len()));
    }

    #[test]
    fn encoded_call_decodes_back() {
        let args = [
            Value::str("rt-x.scope"),
            Value::str("replace"),
            Value::Array {
                elem: "(sv)".into(),
                items: vec![Value::Struct(vec![
                    Value::str("MemoryMax"),
                    Value::variant(Value::U64(1 << 25)),
                ])],
            },
            Value::Array {
                elem: "(sa(sv))".into(),
                items: vec![],
            },
        ];
        let call = Call {
            destination: Some("org.freedesktop.systemd1"),
            path: "/org/freedesktop/systemd1",
            interface: "org.freedesktop.systemd1.Manager",
            member: "StartTransientUnit",
            args: &args,
        };
        let bytes = call.encode(42);
        let m = decode(&bytes).unwrap();
        assert_eq!(m.kind, METHOD_CALL);
        assert_eq!(m.serial, 42);
        assert_eq!(m.member.as_deref(), Some("StartTransientUnit"));
        assert_eq!(m.path.as_deref(), Some("/org/freedesktop/systemd1"));
        assert_eq!(m.body, args);
    }

    #[test]
    fn decodes_a_big_endian_error_reply() {
        // Error reply: serial 9, REPLY_SERIAL 3, ERROR_NAME, SIGNATURE "s".
        let name = "org.freedesktop.systemd1.NoSuchUnit";
        let mut fields = Vec::new();
        // field 4 (error name)
        fields.extend_from_slice(&[4, 1, b's', 0]);
        fields.extend_from_slice(&(name.len() as u32).to_be_bytes());
        fields.extend_from_slice(name.as_bytes());
        fields.push(0);
        while (16 + fields.len()) % 8 != 0 {
            fields.push(0);
        }
        fields.extend_from_slice(&[5, 1, b'u', 0]);
        fields.extend_from_slice(&3u32.to_be_bytes());
        while (16 + fields.len()) % 8 != 0 {
            fields.push(0);
        }
        fields.extend_from_slice(&[8, 1, b'g', 0, 1, b's', 0]);
        let body_text = "Unit x.scope not loaded.";
        let mut body = (body_text.len() as u32).to_be_bytes().to_vec();
        body.extend_from_slice(body_text.as_bytes());
        body.push(0);
        let mut msg = vec![b'B', ERROR, 0, 1];
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes());
        msg.extend_from_slice(&9u32.to_be_bytes());
        msg.extend_from_slice(&(fields.len() as u32).to_be_bytes());
        msg.extend_from_slice(&fields);
        while msg.len() % 8 != 0 {
            msg.push(0);
        }
        msg.extend_from_slice(&body);
        assert_eq!(message_len(&msg).unwrap(), Some(msg.len()));
        let m = decode(&msg).unwrap();
        assert_eq!(m.kind, ERROR);
        assert_eq!(m.reply_serial, Some(3));
        assert_eq!(m.error_name.as_deref(), Some(name));
        assert_eq!(m.body, [Value::str(body_text)]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert!(split_type("a").is_err());
        assert!(split_type("(").is_err());
        assert!(split_type("()").is_err());
        assert!(split_type("z").is_err());
        assert_eq!(split_type("a{sv}s").unwrap(), ("a{sv}", "s"));
        // A string whose length runs past the end.
        let mut r = Reader::new(&[200, 0, 0, 0, b'a'], 0, false);
        assert!(r.value("s", 0).is_err());
        // An array claiming more bytes than there are.
        let mut r = Reader::new(&[16, 0, 0, 0, 1, 0, 0, 0], 0, false);
        assert!(r.value("au", 0).is_err());
        // Truncated messages: every prefix of a valid message fails cleanly.
        let call = Call {
            destination: None,
            path: "/a",
            interface: "b.c",
            member: "D",
            args: &[Value::str("x")],
        };
        let bytes = call.encode(1);
        for n in 0..bytes.len() {
            assert!(decode(&bytes[..n]).is_err(), "prefix of {n} bytes");
        }
        assert!(message_len(b"X23456789abcdef0").is_err());
    }
}

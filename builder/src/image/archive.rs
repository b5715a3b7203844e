//! Compression detection by content (as Docker does for ADD and layers):
//! gzip, bzip2, xz, zstd and uncompressed tar are read. xz is decoded into
//! memory first (lzma-rs has no streaming reader), which is fine for ADD
//! archives and the rare xz layer.

use std::io::{BufRead, BufReader, Read};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

pub fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// A reader of the decompressed stream, and which compression it had.
pub fn decompress<'a, R: Read + 'a>(
    reader: R,
    what: &str,
) -> Result<(Box<dyn Read + 'a>, Compression), String> {
    let mut buf = BufReader::with_capacity(256 * 1024, reader);
    let head = buf.fill_buf().map_err(|e| format!("{what}: {e}"))?.to_vec();
    match detect(&head) {
        Compression::None => Ok((Box::new(buf), Compression::None)),
        // MultiGzDecoder: pigz and some tools write several gzip members.
        Compression::Gzip => Ok((
            Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
            Compression::Gzip,
        )),
        Compression::Bzip2 => Ok((
            Box::new(bzip2::bufread::MultiBzDecoder::new(buf)),
            Compression::Bzip2,
        )),
        Compression::Zstd => {
            let d = ruzstd::decoding::StreamingDecoder::new(buf)
                .map_err(|e| format!("{what}: zstd: {e}"))?;
            Ok((Box::new(d), Compression::Zstd))
        }
        Compression::Xz => {
            let mut out = Vec::new();
            lzma_rs::xz_decompress(&mut buf, &mut out).map_err(|e| format!("{what}: xz: {e}"))?;
            Ok((Box::new(std::io::Cursor::new(out)), Compression::Xz))
        }
    }
}

/// True when `head` (the first 512+ bytes, decompressed) is a tar header:
/// the ustar magic, or an old-style header whose checksum matches.
pub fn looks_like_tar(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    if &head[257..262] == b"ustar" {
        return true;
    }
    let stored = std::str::from_utf8(&head[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let sum: u32 = head[..512]
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u32
            }
        })
        .sum();
    stored == Some(sum) && head[..100].iter().any(|b| *b != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_round_trip_and_detection() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"hello").unwrap();
        let gz = enc.finish().unwrap();
        let (mut r, c) = decompress(&gz[..], "x").unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!((out.as_str(), c), ("hello", Compression::Gzip));
        assert!(decompress(&[0x28u8, 0xb5, 0x2f, 0xfd, 0][..], "x").is_err());
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(b"bz").unwrap();
        let bz = bz.finish().unwrap();
        let (mut r, c) = decompress(&bz[..], "x").unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!((out.as_str(), c), ("bz", Compression::Bzip2));
        let mut xz = Vec::new();
        lzma_rs::xz_compress(&mut &b"xz"[..], &mut xz).unwrap();
        let (mut r, c) = decompress(&xz[..], "x").unwrap();
        let mut out = String::new();
        r.read_to_string(&mut out).unwrap();
        assert_eq!((out.as_str(), c), ("xz", Compression::Xz));
        assert_eq!(detect(b"plain"), Compression::None);
    }

    #[test]
    fn tar_detection() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_path("a").unwrap();
        h.set_size(0);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        let bytes = b.into_inner().unwrap();
        assert!(looks_like_tar(&bytes));
        assert!(!looks_like_tar(&[0u8; 1024]));
        assert!(!looks_like_tar(b"hello"));
    }
}

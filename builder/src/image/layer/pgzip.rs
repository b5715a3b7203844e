//! Multi-threaded gzip for layers (pigz's scheme): the input is cut into
//! fixed 1 MiB blocks, each block is deflated on its own by a worker, and
//! the raw deflate outputs are joined in order into one gzip member. Every
//! block but the last ends with a sync flush (an empty stored block, which
//! leaves the stream byte-aligned and not final), the last one with the
//! final block, so the concatenation is a single valid deflate stream that
//! any gunzip reads. The CRC-32 is computed over the input in order.
//!
//! Blocks do not share a dictionary (pigz shares the previous block's last
//! 32 KiB); that costs well under 1% of size on layer data and keeps the
//! blocks independent. The output depends only on the input, the level
//! and the fixed block size, never on the number of threads or on timing,
//! so a layer's digest stays reproducible.
//!
//! Workers are scoped threads that end when the layer is written: RUN
//! containers are cloned from this process, and no thread may be running
//! (and hold a lock the child would need) when that happens.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

/// Input per independently compressed block.
pub const BLOCK: usize = 1 << 20;

/// gzip header: magic, deflate, no flags, mtime 0, no extra flags, OS
/// "unknown" (255) so the bytes do not depend on the building host.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

type Job = (u64, Vec<u8>, bool);
type Done = (u64, io::Result<Vec<u8>>);

/// A gzip writer that compresses blocks on `threads` workers.
pub struct ParallelGzip<W: Write> {
    out: W,
    level: Compression,
    crc: Crc,
    buf: Vec<u8>,
    /// None when compressing inline (one thread).
    jobs: Option<SyncSender<Job>>,
    results: Option<Receiver<Done>>,
    next_block: u64,
    next_write: u64,
    in_flight: usize,
    max_in_flight: usize,
    ready: BTreeMap<u64, Vec<u8>>,
    header_written: bool,
}

/// Deflates one block as raw deflate; `last` ends the stream.
fn deflate_block(level: Compression, data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    let mut c = Compress::new(level, false);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        let consumed = c.total_in() as usize;
        out.reserve(64 * 1024);
        let status = c
            .compress_vec(&data[consumed..], &mut out, flush)
            .map_err(io::Error::other)?;
        let done_input = c.total_in() as usize == data.len();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete once all input is in and the
            // output buffer was not filled to the brim.
            Status::Ok | Status::BufError if !last && done_input && out.len() < out.capacity() => {
                break;
            }
            _ => {}
        }
    }
    Ok(out)
}

impl<W: Write> ParallelGzip<W> {
    /// `threads` workers (at least one; with one, blocks are compressed
    /// inline) spawned in `scope`.
    pub fn new<'scope, 'env>(
        scope: &'scope Scope<'scope, 'env>,
        out: W,
        level: Compression,
        threads: usize,
    ) -> ParallelGzip<W> {
        let mut g = ParallelGzip {
            out,
            level,
            crc: Crc::new(),
            buf: Vec::with_capacity(BLOCK),
            jobs: None,
            results: None,
            next_block: 0,
            next_write: 0,
            in_flight: 0,
            max_in_flight: 2 * threads.max(1),
            ready: BTreeMap::new(),
            header_written: false,
        };
        if threads > 1 {
            let (job_tx, job_rx) = sync_channel::<Job>(threads);
            let (done_tx, done_rx) = sync_channel::<Done>(2 * threads);
            let job_rx = Arc::new(Mutex::new(job_rx));
            for _ in 0..threads {
                let job_rx = Arc::clone(&job_rx);
                let done_tx = done_tx.clone();
                scope.spawn(move || {
                    loop {
                        let job = match job_rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        let Ok((index, data, last)) = job else {
                            return; // the writer is gone: no more work
                        };
                        let r = deflate_block(level, &data, last);
                        if done_tx.send((index, r)).is_err() {
                            return;
                        }
                    }
                });
            }
            g.jobs = Some(job_tx);
            g.results = Some(done_rx);
        }
        g
    }

    fn write_header(&mut self) -> io::Result<()> {
        if !self.header_written {
            self.out.write_all(&HEADER)?;
            self.header_written = true;
        }
        Ok(())
    }

    /// Hands the buffered block to a worker (or compresses it inline).
    fn submit(&mut self, last: bool) -> io::Result<()> {
        self.write_header()?;
        let data = std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(if last { 0 } else { BLOCK }),
        );
        let index = self.next_block;
        self.next_block += 1;
        if self.jobs.is_none() {
            let out = deflate_block(self.level, &data, last)?;
            self.out.write_all(&out)?;
            self.next_write += 1;
            return Ok(());
        }
        while self.in_flight >= self.max_in_flight {
            self.collect_one()?;
        }
        let jobs = self
            .jobs
            .as_ref()
            .ok_or_else(|| io::Error::other("no gzip workers"))?;
        jobs.send((index, data, last))
            .map_err(|_| io::Error::other("gzip workers stopped"))?;
        self.in_flight += 1;
        Ok(())
    }

    /// Waits for one compressed block and writes every block now in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let rx = self
            .results
            .as_ref()
            .ok_or_else(|| io::Error::other("no gzip workers"))?;
        let (index, r) = rx
            .recv()
            .map_err(|_| io::Error::other("gzip workers stopped"))?;
        self.in_flight -= 1;
        self.ready.insert(index, r?);
        while let Some(block) = self.ready.remove(&self.next_write) {
            self.out.write_all(&block)?;
            self.next_write += 1;
        }
        Ok(())
    }

    /// Compresses what is left, writes the trailer and returns the inner
    /// writer. The workers stop when `self` is dropped here.
    pub fn finish(mut self) -> io::Result<W> {
        self.submit(true)?;
        while self.in_flight > 0 {
            self.collect_one()?;
        }
        let crc = self.crc.sum().to_le_bytes();
        let size = (self.crc.amount()).to_le_bytes();
        self.out.write_all(&crc)?;
        self.out.write_all(&size)?;
        self.out.flush()?;
        self.jobs = None;
        let ParallelGzip { out, .. } = self;
        Ok(out)
    }
}

impl<W: Write> Write for ParallelGzip<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(BLOCK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        self.crc.update(&data[..n]);
        if self.buf.len() == BLOCK {
            self.submit(false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Workers for layer compression: the machine's cores, at most 8.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn compress(data: &[u8], threads: usize) -> Vec<u8> {
        std::thread::scope(|s| {
            let mut g = ParallelGzip::new(s, Vec::new(), Compression::default(), threads);
            // Odd-sized writes cross block boundaries.
            for chunk in data.chunks(77_777) {
                g.write_all(chunk).unwrap();
            }
            g.finish().unwrap()
        })
    }

    fn sample(len: usize) -> Vec<u8> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        (0..len)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Half text-like (compressible), half noise.
                if (i / 4096) % 2 == 0 {
                    b"layer data "[i % 11]
                } else {
                    x as u8
                }
            })
            .collect()
    }

    #[test]
    fn any_gunzip_reads_it_and_threads_do_not_change_the_bytes() {
        for len in [0, 1, 1000, BLOCK - 1, BLOCK, BLOCK + 1, 3 * BLOCK + 12_345] {
            let data = sample(len);
            let one = compress(&data, 1);
            let four = compress(&data, 4);
            assert_eq!(one, four, "output depends on the thread count (len {len})");
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&one[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "len {len}");
            // One gzip member, as GzDecoder (not MultiGzDecoder) reads it.
            assert_eq!(&one[..3], &[0x1f, 0x8b, 8]);
        }
    }

    #[test]
    fn the_system_gunzip_agrees() {
        let data = sample(2 * BLOCK + 5);
        let gz = compress(&data, 3);
        let mut child = std::process::Command::new("gzip")
            .args(["-dc"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&gz));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, data);
    }
}

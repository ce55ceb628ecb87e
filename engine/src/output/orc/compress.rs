//! ORC's compression framing: a stream is cut into blocks of a fixed
//! uncompressed size, each stored compressed behind a 3-byte header, or as
//! it is when compressing does not make it smaller.
//!
//! Blocks are cut at fixed uncompressed offsets so a row index position
//! (an uncompressed offset) maps to (block start, offset in block) after the
//! fact, without the encoders knowing about compression.

use orc_rust::proto::CompressionKind;

use crate::output::OrcCompression;

/// A stream after compression, with where each block starts.
#[derive(Debug)]
pub(super) struct Compressed {
    pub bytes: Vec<u8>,
    /// Compressed offset of block `i` (uncompressed bytes `i * block ..`).
    starts: Vec<u64>,
}

/// How a file's streams are compressed.
#[derive(Debug, Clone, Copy)]
pub(super) struct Codec {
    pub kind: OrcCompression,
    /// zlib 0–9 or zstd 1–22.
    pub level: i32,
    pub block: usize,
}

impl Codec {
    pub(super) fn proto_kind(&self) -> CompressionKind {
        match self.kind {
            OrcCompression::None => CompressionKind::None,
            OrcCompression::Zlib => CompressionKind::Zlib,
            OrcCompression::Zstd => CompressionKind::Zstd,
            OrcCompression::Snappy => CompressionKind::Snappy,
        }
    }

    pub(super) fn compress(&self, data: &[u8]) -> std::io::Result<Compressed> {
        if self.kind == OrcCompression::None {
            return Ok(Compressed {
                bytes: data.to_vec(),
                starts: Vec::new(),
            });
        }
        let mut bytes = Vec::with_capacity(data.len() / 2 + 16);
        let mut starts = Vec::with_capacity(data.len().div_ceil(self.block));
        let mut scratch = Vec::new();
        for block in data.chunks(self.block) {
            starts.push(bytes.len() as u64);
            scratch.clear();
            self.compress_block(block, &mut scratch)?;
            let (original, body) = if scratch.len() < block.len() {
                (0, &scratch[..])
            } else {
                (1, block)
            };
            let head = ((body.len() as u32) << 1) | original;
            bytes.extend_from_slice(&head.to_le_bytes()[..3]);
            bytes.extend_from_slice(body);
        }
        Ok(Compressed { bytes, starts })
    }

    fn compress_block(&self, block: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
        match self.kind {
            OrcCompression::None => out.extend_from_slice(block),
            // ORC's zlib is raw deflate (Java's `Deflater(level, nowrap)`).
            OrcCompression::Zlib => deflate_block(self.level.clamp(0, 9) as u32, block, out)?,
            OrcCompression::Zstd => {
                *out = zstd::bulk::compress(block, self.level)?;
            }
            OrcCompression::Snappy => {
                *out = snap::raw::Encoder::new()
                    .compress_vec(block)
                    .map_err(std::io::Error::other)?;
            }
        }
        Ok(())
    }
}

thread_local! {
    /// One deflate state per thread and level, reset for each block: a new
    /// one allocates and clears its window and hash tables (about 300 KB),
    /// which for a file's many small streams cost more than compressing
    /// them.
    static DEFLATE: std::cell::RefCell<Option<(u32, flate2::Compress)>> =
        const { std::cell::RefCell::new(None) };
}

/// `block` as one raw deflate stream at `level`, appended to `out`.
fn deflate_block(level: u32, block: &[u8], out: &mut Vec<u8>) -> std::io::Result<()> {
    DEFLATE.with_borrow_mut(|state| {
        let compress = match state {
            Some((at, compress)) if *at == level => {
                compress.reset();
                compress
            }
            _ => {
                let fresh = flate2::Compress::new(flate2::Compression::new(level), false);
                &mut state.insert((level, fresh)).1
            }
        };
        // Stored blocks' overhead (5 bytes per 16 KiB) past the input is
        // the most deflate can add; the loop covers any other case.
        out.reserve(block.len() + block.len() / 1024 + 64);
        let start_in = compress.total_in();
        loop {
            let done = (compress.total_in() - start_in) as usize;
            let status = compress
                .compress_vec(&block[done..], out, flate2::FlushCompress::Finish)
                .map_err(std::io::Error::other)?;
            match status {
                flate2::Status::StreamEnd => return Ok(()),
                flate2::Status::Ok | flate2::Status::BufError => {
                    out.reserve(out.capacity().max(4096))
                }
            }
        }
    })
}

impl Compressed {
    /// The row index positions of uncompressed `offset`: (block start,
    /// offset in block), or the offset alone when uncompressed.
    pub(super) fn positions(&self, codec: &Codec, offset: u64, out: &mut Vec<u64>) {
        if codec.kind == OrcCompression::None {
            out.push(offset);
            return;
        }
        let block = codec.block as u64;
        let i = (offset / block) as usize;
        // An offset at the very end (a row group with no values in this
        // stream) points past the last block.
        out.push(
            self.starts
                .get(i)
                .copied()
                .unwrap_or(self.bytes.len() as u64),
        );
        out.push(offset % block);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    /// One thread's deflate state, reset between blocks and levels, makes
    /// streams that inflate back to each block, text or incompressible.
    #[test]
    fn a_reused_deflate_state_compresses_every_block_whole() {
        let text: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("{{\"n\": {i}, \"s\": \"row {}\"}}", i % 13).into_bytes())
            .collect();
        let mut noise = Vec::with_capacity(300_000);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        while noise.len() < 300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        for (level, block) in [
            (1, &text[..]),
            (1, &noise[..]),
            (6, &text[..1000]),
            (1, &b""[..]),
            (9, &noise[..]),
            (1, &text[..]),
        ] {
            let mut out = b"kept".to_vec();
            deflate_block(level, block, &mut out).unwrap();
            assert_eq!(&out[..4], b"kept", "appended, not overwritten");
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(&out[4..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, block, "level {level}, {} bytes", block.len());
        }
    }
}
